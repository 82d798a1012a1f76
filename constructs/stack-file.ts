/**
 * stack.json: everything the hub needs to know about its environment, and no secrets (those are
 * separate 0600 files). Its shape is this zod schema; `npm run generate` emits it as JSON Schema
 * into the hub image (images/hub/jupyterhub_lti_stack/contract.json), and the hub validates the
 * uploaded file against it at start. The constructs build the document with `renderStackFile`,
 * which checks it against the same schema, so a stack.json the constructs write is one the hub reads.
 */
import { z } from 'zod';
import { terraformSafeJson } from './terraform-text';
import { SERVER_NAME_PATTERN, SIGNING_KEY_NAME_PATTERN } from './contract';
import { COURSE_ID_PATTERN, CONTRACT_VERSION, GRADER_UID_MAX, GRADER_UID_MIN, MIN_CPUS, MIN_MEMORY_BYTES, ORIGIN_PATTERN } from './contract';

const nonEmpty = z.string().min(1);
// Printable ASCII only: the same class in JavaScript and in the hub's Python regex engine.
const httpUrl = z.string().regex(/^https?:\/\/[!-~]+$/);
const dockerName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);

const StackCourseSchema = z.strictObject({
  id: z.string().regex(new RegExp(COURSE_ID_PATTERN)).describe('nbgrader course id = grader service name'),
  title: nonEmpty,
  context_ids: z.array(nonEmpty).min(1).describe('LMS context ids launching into this course'),
  image: nonEmpty.describe('notebook image of the course (present on the engine)'),
  allowed_images: z.array(nonEmpty.regex(/^[^*]+$/)).describe('further images a launch may choose'),
  volume: dockerName.describe('course volume (mounted in the grader only)'),
  grader_url: httpUrl.describe("URL of the course's grader service, from the hub"),
  grader_uid: z.int().min(GRADER_UID_MIN).max(GRADER_UID_MAX),
  grade_passback: z.boolean().describe("send this course's nbgrader scores to the LMS"),
  server_name: z.string().regex(new RegExp(SERVER_NAME_PATTERN)).describe("the JupyterHub server name of this course's servers"),
  limits: z.strictObject({ memory_bytes: z.int().min(MIN_MEMORY_BYTES), cpus: z.number().min(MIN_CPUS) }).describe("this course's server limits"),
  idle_cull_seconds: z.int().min(0).describe("this course's servers stop when idle this long"),
  prewarm: z
    .strictObject({
      sessions: z
        .array(z.strictObject({ weekday: z.int().min(0).max(6).describe('0 = Monday'), hour: z.int().min(0).max(23), minute: z.int().min(0).max(59) }))
        .describe('weekly session starts in timezone; empty: only when an instructor asks'),
      timezone: nonEmpty.describe('IANA time zone'),
      lead_seconds: z.int().min(60).describe('servers start this long before a session'),
      concurrency: z.int().min(1).describe('servers starting at once'),
    })
    .nullable()
    .describe("start the known students' servers ahead of sessions; null: no pre-warm"),
  grader_user: nonEmpty.describe('hub user the formgrader acts as (reserved: no launch may use it)'),
  oauth_client_id: nonEmpty.describe("the grader service's OAuth client id"),
  service_token_file: nonEmpty.describe("secret file with the grader service's API token"),
});

export const StackFileSchema = z.strictObject({
  schema_version: z.literal(CONTRACT_VERSION),
  environment: nonEmpty,
  public_url: httpUrl.describe('public URL of the hub (scheme, host, port)'),
  hub_bind_url: httpUrl,
  hub_connect_url: httpUrl,
  proxy_api_url: httpUrl,
  docker: z.strictObject({
    network: dockerName.describe('network user servers join'),
    exchange_volume: dockerName,
    server_name_template: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*\{username\}--\{servername\}$/).describe('DockerSpawner name_template'),
    home_volume_template: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*\{username\}--\{servername\}$/).describe('home volume per (user, course server)'),
    legacy_home_volume_template: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*\{username\}$/).describe("a user's home of releases before course servers"),
  }),
  lti11: z.strictObject({ enabled: z.boolean() }),
  lti13: z.discriminatedUnion('enabled', [
    z.strictObject({
      enabled: z.literal(true),
      platforms: z
        .array(
          z.strictObject({
            issuer: httpUrl,
            client_ids: z.array(nonEmpty).min(1),
            authorize_url: httpUrl,
            jwks_url: httpUrl,
            deployment_ids: z.array(nonEmpty).describe('accepted deployment ids; empty: any'),
            token_url: httpUrl.nullable().describe("the platform's OAuth2 token endpoint (AGS); null: no grade passback over LTI 1.3"),
          }),
        )
        .min(1)
        .describe('the platforms launches are accepted from; one (issuer, client id) names one of them'),
      dynamic_registration: z.boolean().describe('LTI Dynamic Registration offered (with a one-time token)'),
      signing_keys: z
        .array(z.strictObject({ name: z.string().regex(new RegExp(SIGNING_KEY_NAME_PATTERN)), secret_file: nonEmpty }))
        .min(1)
        .describe("the tool's RSA signing keys, all in its JWKS; the first signs"),
    }),
    z.strictObject({
      enabled: z.literal(false),
      platforms: z.array(z.never()).max(0),
      dynamic_registration: z.literal(false),
      signing_keys: z.array(z.never()).max(0),
    }),
  ]),
  frame_ancestors: z.array(z.string().regex(new RegExp(ORIGIN_PATTERN))).describe('LMS origins allowed to frame the tool; empty: none'),
  demo_launcher: z
    .strictObject({
      url: z.string().regex(new RegExp(ORIGIN_PATTERN)).describe("the launcher's origin as browsers reach it: its LTI 1.3 issuer"),
      client_id: nonEmpty,
      deployment_id: nonEmpty,
      https_port: z.int().min(1).max(65535).describe('its HTTPS port inside its container (the page, /launch, /authorize)'),
      jwks_port: z.int().min(1).max(65535).describe('its plain HTTP port for the hub (/jwks only), on the launcher network'),
      platform_key_file: nonEmpty.describe("secret file of the launcher's LTI 1.3 platform key (its container only)"),
      tls_certificate_file: nonEmpty,
      tls_key_file: nonEmpty,
    })
    .nullable()
    .describe('the demo launcher (a stand-in LMS; demo_launcher.py), or null'),
  swarm: z
    .strictObject({
      shared_root: z.string().regex(/^\/[A-Za-z0-9._\/-]*$/).nullable().describe("the shared filesystem's path on every node (mounted at paths.hub_shared_root in the hub); null: nfs"),
      nfs: z
        .strictObject({ address: nonEmpty, path: z.string().regex(/^\/[A-Za-z0-9._\/-]*$/), options: nonEmpty })
        .nullable()
        .describe("NFS volumes (the local volume driver's nfs type) of <path>/<environment_dir>/...; null: shared_root"),
      environment_dir: dockerName.describe("the environment's directory in it (shared_layout inside)"),
      endpoint_mode: z.enum(['vip', 'dnsrr']).describe("user server services' endpoint mode"),
      constraints: z.array(nonEmpty).describe("user server services' placement constraints"),
    })
    .nullable()
    .describe('engine "swarm": user servers are Swarm services on the shared filesystem; null: containers on the one engine'),
  limits: z.strictObject({ servers_per_user: z.int().min(1).describe('course servers one user may run at once') }),
  idle_cull_seconds: z.int().min(0).describe('the hub culler: at least every course timeout (each server also stops itself after its own)'),
  courses: z.array(StackCourseSchema).min(1),
});

export type StackFile = z.output<typeof StackFileSchema>;
export type StackFileCourse = StackFile['courses'][number];

/** JSON Schema of stack.json (draft 2020-12), as the hub image receives it. */
export function stackFileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(StackFileSchema, { io: 'output', unrepresentable: 'throw' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://jupyterhub-lti-stack.invalid/stack.schema.json', title: 'jupyterhub-lti-stack stack.json' };
}

/**
 * Serializes a stack.json document (Terraform-safe, see terraform-text.ts) after checking it
 * against the schema. A failure here is a
 * bug in the constructs (the config rules let through something the hub would refuse), so it
 * names the field and stops the synth.
 */
export function renderStackFile(doc: StackFile): string {
  const parsed = StackFileSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`internal error: stack.json for environment "${doc.environment}" breaks the hub contract (${problems})`);
  }
  return terraformSafeJson(parsed.data);
}
