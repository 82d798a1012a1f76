/**
 * The configuration schema: the single source of truth for the config file's shape,
 * defaults, documentation (`.describe`) and per-field error messages. Cross-field rules
 * (duplicates, collisions, files on disk) live in `./rules.ts`.
 */
import { z } from 'zod';
import { PREWARM_DEFAULTS, PREWARM_SESSION_PATTERN, SIGNING_KEY_NAME_PATTERN } from '../contract';
import { COURSE_ID_PATTERN, GRADER_UID_MAX, GRADER_UID_MIN, HOSTNAME_PATTERN, IPV4_PATTERN, MIN_CPUS, MIN_MEMORY_BYTES, ORIGIN_PATTERN, UID_BASE } from '../contract';
import { hasTemplateSequence } from '../terraform-text';
import { REGISTRY_PATTERN } from './images';

/** Docker image reference that names an explicit tag or digest (no implicit `latest`). */
export const IMAGE_REFERENCE =
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
const IPV4 = new RegExp(IPV4_PATTERN);
const MEMORY = /^[1-9][0-9]*(?:\.[0-9]+)?[KMGT]$/;
/** Largest memory limit accepted: 16 TiB (stack.json carries it as an exact integer of bytes). */
const MAX_MEMORY_BYTES = 16 * 1024 ** 4;

/** "2G" -> bytes (K/M/G/T are powers of 1024, as Docker reads them). */
export function memoryBytes(value: string): number {
  const units: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  return Math.round(parseFloat(value.slice(0, -1)) * units[value.slice(-1)]);
}

/**
 * An opaque identifier an LMS sends (context id, client id, deployment id): compared byte for
 * byte with what the LMS sends, so it is stored exactly as written and must not carry
 * surrounding white space (a copy-and-paste accident that would never match).
 */
const opaqueId = (what: string) =>
  z
    .string()
    .min(1, { error: `${what} must not be empty` })
    .max(255, { error: `${what} must be at most 255 characters` })
    .refine((v) => v.trim() === v, { error: `${what} must not start or end with white space (the LMS sends it exactly)` })
    // eslint-disable-next-line no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), { error: `${what} must not contain control characters` });

/**
 * A file path or other value that reaches Terraform outside stack.json: it must not contain
 * what Terraform or cdktf would read as a template or an escape. White space around it is
 * removed before it is checked and stored.
 */
const plainPath = (what: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `${what} must not be empty` })
    // eslint-disable-next-line no-control-regex
    .refine((v) => !hasTemplateSequence(v) && !/["\\\u0000-\u001f\u007f]/.test(v), {
      error: `${what} must not contain "\${", "%{", "#{", "&{", quotes, backslashes or control characters (Terraform or cdktf would read them as code); rename or move the file`,
    });

const imageReference = (what: string) =>
  z
    .string()
    .refine((v) => IMAGE_REFERENCE.test(v) && (/[:@][^/]*$/.test(v.split('/').pop() ?? '')), {
      error: `${what} must be a Docker image reference with an explicit tag or digest, e.g. "quay.io/jupyter/scipy-notebook:hub-5.5.4"`,
    })
    .refine((v) => !v.endsWith(':latest'), {
      error: `${what} must be pinned: "latest" changes under you; use a version tag or @sha256 digest`,
    });

const url = (what: string) =>
  z
    .string()
    .trim()
    // The same class in JavaScript and in the hub's Python: no white space, control or non-ASCII character.
    .regex(/^[!-~]+$/, { error: `${what} must be printable ASCII without spaces (percent-encode anything else)` })
    .refine(
    (v) => {
      try {
        const u = new URL(v);
        const local = u.hostname === 'localhost' || u.hostname === '127.0.0.1';
        return u.protocol === 'https:' || (u.protocol === 'http:' && local);
      } catch {
        return false;
      }
    },
    { error: `${what} must be an absolute https:// URL (http:// only for localhost / 127.0.0.1)` },
  );

const memoryLimit = z
  .string()
  .trim()
  .regex(MEMORY, { error: 'limits.memory must look like "512M" or "2G"' })
  .refine((v) => !MEMORY.test(v) || memoryBytes(v) >= MIN_MEMORY_BYTES, {
    error: `limits.memory must be at least ${MIN_MEMORY_BYTES / 1024 ** 2}M: a Jupyter server does not start with less (Docker refuses below 6M)`,
  })
  .refine((v) => !MEMORY.test(v) || memoryBytes(v) <= MAX_MEMORY_BYTES, { error: 'limits.memory must be at most 16T' });

const cpuLimit = z
  .number()
  .min(MIN_CPUS, { error: `limits.cpus must be at least ${MIN_CPUS} (Docker's smallest CPU quota)` })
  .max(64, { error: 'limits.cpus must be at most 64' });

const idleCull = z
  .int()
  .min(300, { error: 'idleCullSeconds must be at least 300 (5 minutes); students lose work more often below' })
  .max(7 * 24 * 3600);

const TIME_ZONES: ReadonlySet<string> = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);

const PrewarmSchema = z
  .strictObject({
    sessions: z
      .array(
        z
          .string()
          .trim()
          .regex(new RegExp(PREWARM_SESSION_PATTERN), { error: 'a session is a weekday and a 24-hour time in prewarm.timezone, e.g. "mon 09:15" (mon, tue, wed, thu, fri, sat, sun)' }),
      )
      .max(50, { error: 'at most 50 weekly sessions' })
      .default([])
      .describe('Weekly session starts, e.g. ["mon 09:15", "thu 14:00"]; empty: only when an instructor triggers it.'),
    timezone: z
      .string()
      .trim()
      .refine((tz) => TIME_ZONES.has(tz), { error: 'prewarm.timezone must be an IANA time zone such as "Europe/Berlin" or "UTC"' })
      .default('UTC')
      .describe('IANA time zone of the session times (daylight saving included).'),
    leadMinutes: z
      .int({ error: 'prewarm.leadMinutes must be a whole number of minutes' })
      .min(1, { error: 'prewarm.leadMinutes must be at least 1' })
      .max(240, { error: 'prewarm.leadMinutes must be at most 240' })
      .default(PREWARM_DEFAULTS.leadMinutes)
      .describe("Start servers this long before a session; shorter than the course's idleCullSeconds, or they stop again before class."),
    concurrency: z
      .int({ error: 'prewarm.concurrency must be a whole number' })
      .min(1, { error: 'prewarm.concurrency must be at least 1' })
      .max(64, { error: 'prewarm.concurrency must be at most 64' })
      .default(PREWARM_DEFAULTS.concurrency)
      .describe('Servers starting at once while pre-warming (about the number of host cores).'),
  })
  .describe("Pre-warm: the known students' servers (everyone who launched into the course before) start ahead of each session, or when an instructor asks.");

export const CourseSchema = z
  .strictObject({
    id: z
      .string()
      .regex(new RegExp(COURSE_ID_PATTERN), {
        error:
          'course id must be 2-32 characters of a-z and 0-9 with single "-" or "_" between them, starting with a letter and ending with a letter or digit (it becomes the nbgrader course id, a hub service name and part of Docker names)',
      })
      .describe('nbgrader course id; also the grader service name (`/services/<id>/`).'),
    title: z.string().trim().min(1, { error: 'title must not be empty' }).max(200).describe('Human-readable course title.'),
    contexts: z
      .array(opaqueId('an LMS context id'))
      .superRefine((contexts, ctx) => {
        contexts.forEach((c, k) => {
          if (contexts.indexOf(c) < k) ctx.addIssue({ code: 'custom', path: [k], input: c, message: `context listed twice in this course (first at contexts[${contexts.indexOf(c)}]); list it once` });
        });
      })
      .min(1, { error: 'list at least one LMS context id (LTI 1.1 context_id / LTI 1.3 context claim id) that launches into this course' })
      .describe('LMS context ids (LTI 1.1 `context_id`, LTI 1.3 context claim `id`) that map to this course.'),
    kernels: z
      .array(z.enum(['python', 'r', 'julia'], { error: 'kernels may be "python", "r" or "julia"' }))
      .default(['python'])
      .refine((k) => k.includes('python'), { error: 'kernels must include "python" (nbgrader needs it)' })
      .refine((k) => new Set(k).size === k.length, { error: 'kernels must not repeat' })
      .describe('Kernels in the course image; chooses the default notebook base (scipy, r, julia or datascience).'),
    notebookBase: imageReference('notebookBase')
      .optional()
      .describe('Base image for the course notebook image. @default chosen from `kernels`, official docker-stacks image.'),
    allowedImages: z
      .array(imageReference('each allowedImages entry'))
      .default([])
      .describe('Further images a launch may choose with the custom parameter/claim `image`; the course image is always allowed.'),
    limits: z
      .strictObject({
        memory: memoryLimit.optional().describe("Memory of this course's user servers. @default the environment's limits.memory"),
        cpus: cpuLimit.optional().describe("CPUs of this course's user servers. @default the environment's limits.cpus"),
      })
      .default({})
      .describe("This course's server limits. @default the environment's"),
    idleCullSeconds: idleCull.optional().describe("Stop this course's user servers idle this long. @default the environment's idleCullSeconds"),
    gradePassback: z
      .boolean()
      .default(false)
      .describe("Send the course's nbgrader scores to the LMS after autograde (LTI 1.3 AGS line items and scores; LTI 1.1 Basic Outcomes)."),
    prewarm: PrewarmSchema.optional().describe("Start the servers of the course's known students before its sessions. @default none (servers start at each launch)"),
    graderUid: z
      .int({ error: 'graderUid must be a whole number' })
      .min(GRADER_UID_MIN, { error: `graderUid must be at least ${GRADER_UID_MIN} (below are system users and jovyan)` })
      .max(GRADER_UID_MAX, { error: `graderUid must be at most ${GRADER_UID_MAX} (${UID_BASE} and up are student uids)` })
      .optional()
      .describe('Unix uid of the course grader account. @default derived from the course id, stable.'),
  })
  .describe('A course served by the environment hub.');

const TlsSchema = z
  .discriminatedUnion(
    'mode',
    [
      z.strictObject({
        mode: z.literal('self-signed').describe('Certificate from the tls provider.'),
        algorithm: z.enum(['ECDSA', 'RSA'], { error: 'algorithm must be "ECDSA" or "RSA"' }).default('ECDSA').describe('Key algorithm of the generated certificate.'),
        ecdsaCurve: z.enum(['P256', 'P384'], { error: 'ecdsaCurve must be "P256" or "P384"' }).default('P256').describe('Curve for ECDSA keys.'),
        rsaBits: z
          .int()
          .min(3072, { error: 'rsaBits below 3072 is too weak; use 3072 or 4096 (or ECDSA P256)' })
          .max(8192)
          .default(3072)
          .describe('Key size for RSA keys (>= 3072).'),
        validityDays: z.int().min(1).max(825, { error: 'validityDays must be at most 825 (browsers reject longer)' }).default(365).describe('Certificate lifetime; Terraform renews it in the last quarter.'),
      }),
      z.strictObject({
        mode: z.literal('provided').describe("The operator's own certificate and key files."),
        certFile: plainPath('tls.certFile').describe('PEM certificate (chain) file, relative to the config file.'),
        keyFile: plainPath('tls.keyFile').describe('PEM private key file, relative to the config file; never copied into cdktf.out.'),
      }),
    ],
    { error: 'tls.mode must be "self-signed" or "provided"' },
  )
  .default({ mode: 'self-signed', algorithm: 'ECDSA', ecdsaCurve: 'P256', rsaBits: 3072, validityDays: 365 })
  .describe('TLS for the proxy. @default self-signed ECDSA P-256 from the tls provider.');

const Lti13PlatformSchema = z
  .strictObject({
    issuer: url('lti13.platforms[].issuer').describe('Platform issuer (`iss`).'),
    clientIds: z.array(opaqueId('a client id')).min(1, { error: 'list at least one client id issued by the platform' }).describe('Client ids the platform issued for this tool.'),
    deploymentIds: z.array(opaqueId('a deployment id')).default([]).describe('Accepted deployment ids. @default any'),
    authorizeUrl: url('lti13.platforms[].authorizeUrl').describe('Platform OIDC authorization endpoint.'),
    jwksUrl: url('lti13.platforms[].jwksUrl').describe("Platform JWKS endpoint (the platform's public keys)."),
    tokenUrl: url('lti13.platforms[].tokenUrl')
      .optional()
      .describe('Platform OAuth2 token endpoint (grade passback over LTI 1.3 Assignment and Grade Services). @default - no LTI 1.3 grade passback'),
  })
  .describe('One more LTI 1.3 platform (LMS) registration, with the same fields as the first one at the top of lti13.');

const Lti13Schema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Accept LTI 1.3 launches.'),
    issuer: url('lti13.issuer').optional().describe('Platform issuer (`iss`) of the first platform. @default - none: every platform is listed in lti13.platforms'),
    clientIds: z.array(opaqueId('a client id')).default([]).describe('Client ids the platform issued for this tool.'),
    authorizeUrl: url('lti13.authorizeUrl').optional().describe('Platform OIDC authorization endpoint.'),
    jwksUrl: url('lti13.jwksUrl').optional().describe("Platform JWKS endpoint (the platform's public keys)."),
    tokenUrl: url('lti13.tokenUrl')
      .optional()
      .describe('Platform OAuth2 token endpoint (grade passback over LTI 1.3 Assignment and Grade Services). @default - no LTI 1.3 grade passback'),
    signingKeys: z
      .array(
        z.string().regex(new RegExp(SIGNING_KEY_NAME_PATTERN), {
          error: 'a signing key name must be 1-32 characters of a-z and 0-9 with single "-" between them',
        }),
      )
      .min(1, { error: 'name at least one signing key' })
      .refine((k) => new Set(k).size === k.length, { error: 'signing key names must not repeat' })
      .default(['1'])
      .describe(
        "Names of the tool's RSA signing keys, generated by Terraform; all are published in the tool's JWKS, the first signs. Rotate by putting a new name first, deploying, and removing the old name once platforms have fetched the keyset again.",
      ),
    deploymentIds: z.array(opaqueId('a deployment id')).default([]).describe('Accepted deployment ids. @default any'),
    platforms: z
      .array(Lti13PlatformSchema)
      .default([])
      .describe(
        'More LTI 1.3 platforms launching into this environment (several LMSs, or one LMS registered more than once), each with its own issuer, client ids, endpoints and deployments; the tool keyset and URLs are the same for all. A Dynamic Registration prints the entry to add here. @default []',
      ),
    dynamicRegistration: z
      .boolean()
      .default(false)
      .describe(
        "Offer LTI Dynamic Registration: an LMS admin pastes a registration URL (with a one-time token from `registration-token <env>`), the LMS and the hub exchange their configuration, and the hub shows the lti13.platforms entry to add to this config. @default false",
      ),
    platformCaBundle: plainPath('lti13.platformCaBundle')
      .optional()
      .describe(
        "PEM CAs the hub trusts for its outgoing HTTPS (the platform's JWKS) when the platform uses an internal CA; replaces the hub's default trust store. Relative to the config file.",
      ),
  })
  .default({ enabled: false, clientIds: [], deploymentIds: [], signingKeys: ['1'], platforms: [], dynamicRegistration: false })
  .describe('LTI 1.3 platform settings.');

const StateSchema = z
  .discriminatedUnion(
    'backend',
    [
      z.strictObject({
        backend: z.literal('local').describe('Local state file.'),
        path: plainPath('state.path').optional().describe('State file, relative to the stack directory. @default ../../../state/<env>.tfstate'),
      }),
      z.strictObject({
        backend: z.literal('s3').describe('S3 (or compatible) bucket; credentials from the AWS_* environment.'),
        bucket: plainPath('state.bucket').describe('Bucket name.'),
        key: plainPath('state.key').describe('Object key of the state.'),
        region: plainPath('state.region').describe('Bucket region.'),
        endpoint: plainPath('state.endpoint').optional().describe('Endpoint of an S3-compatible store.'),
      }),
      z.strictObject({
        backend: z.literal('http').describe('HTTP state backend (e.g. GitLab); credentials from TF_HTTP_* variables.'),
        address: plainPath('state.address').describe('State URL.'),
        lockAddress: plainPath('state.lockAddress').optional().describe('Lock URL.'),
        unlockAddress: plainPath('state.unlockAddress').optional().describe('Unlock URL.'),
      }),
    ],
    { error: 'state.backend must be "local", "s3" or "http" (credentials come from the environment, never the config)' },
  )
  .default({ backend: 'local' })
  .describe('Terraform state backend of this environment. @default local file under state/.');

/** An absolute path of plain characters (it becomes a bind mount source or an NFS device). */
const absolutePath = (what: string) =>
  plainPath(what)
    .pipe(
      z
        .string()
        .regex(/^\/[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*\/?$/, { error: `${what} must be an absolute path of letters, digits, ".", "_", "-" and "/", e.g. "/srv/jhlti-shared"` })
        .refine((v) => !v.split('/').includes('..'), { error: `${what} must not contain ".."` }),
    )
    .transform((v) => v.replace(/\/+$/, ''));

/** A placement constraint as Docker Swarm reads it, e.g. "node.role==worker" or "node.labels.jupyter==yes". */
const PLACEMENT_CONSTRAINT = /^(?:node|engine)\.[A-Za-z0-9._-]+ ?(?:==|!=) ?[A-Za-z0-9._:/-]+$/;

const SwarmSchema = z.strictObject({
  registry: z
    .strictObject({
      address: z
        .string()
        .trim()
        .regex(REGISTRY_PATTERN, { error: 'swarm.registry.address must be a registry host with an optional port and path, e.g. "registry.example.edu:5000" (no scheme)' })
        .describe('Registry the stack pushes its images to and every node pulls from: host[:port][/path].'),
      auth: z
        .enum(['docker-config', 'none'], { error: 'swarm.registry.auth must be "docker-config" (the credentials of `docker login`) or "none"' })
        .default('docker-config')
        .describe('"docker-config": the credentials `docker login <address>` stored (~/.docker/config.json or DOCKER_CONFIG); "none": a registry without authentication.'),
      plainHttp: z
        .boolean()
        .default(false)
        .describe('The registry speaks plain HTTP (every node must list it in the engine\'s insecure-registries). Only on a private network.'),
    })
    .describe('The registry every node pulls the stack\'s images from.'),
  sharedRoot: absolutePath('swarm.sharedRoot')
    .optional()
    .describe('A shared filesystem (NFS, CephFS, ...) mounted at this path on every node: homes, the nbgrader exchange and the course directories of the environment live in <sharedRoot>/jhlti-<name>/, with their Unix owners and modes. Either this or nfs.'),
  nfs: z
    .strictObject({
      address: z
        .string()
        .trim()
        .refine((v) => IPV4.test(v) || HOSTNAME.test(v), { error: 'swarm.nfs.address must be the NFS server\'s host name or IPv4 address' })
        .describe("The NFS server's host name or IPv4 address."),
      path: absolutePath('swarm.nfs.path').describe('The exported directory; the environment keeps its files in <path>/jhlti-<name>/.'),
      options: z
        .string()
        .trim()
        .regex(/^[A-Za-z0-9_.=-]+(?:,[A-Za-z0-9_.=-]+)*$/, { error: 'swarm.nfs.options must be comma-separated NFS mount options such as "nfsvers=4.1,hard"' })
        .default('nfsvers=4.1')
        .describe('NFS mount options besides addr (comma-separated). @default "nfsvers=4.1"'),
    })
    .optional()
    .describe("NFS volumes through Docker's local volume driver, mounted by each node's engine when a task needs them (no share to mount on the nodes by hand; their kernels need an NFS client). Either this or sharedRoot."),
  endpointMode: z
    .enum(['vip', 'dnsrr'], { error: 'swarm.endpointMode must be "vip" (virtual IPs, the default) or "dnsrr" (DNS round robin, for kernels without IPVS)' })
    .default('vip')
    .describe('How services are reached inside the cluster: "vip", a virtual IP per service (needs IPVS on the nodes); "dnsrr", the tasks\' own addresses.'),
  publishMode: z
    .enum(['ingress', 'host'], { error: 'swarm.publishMode must be "ingress" (the routing mesh: every node answers) or "host" (the node running the proxy answers)' })
    .default('ingress')
    .describe('How the HTTPS port is published: "ingress", on every node (routing mesh; needs IPVS); "host", on the manager node that runs the proxy.'),
  serverConstraints: z
    .array(z.string().trim().regex(PLACEMENT_CONSTRAINT, { error: 'must be a placement constraint such as "node.role==worker" or "node.labels.jupyter==yes"' }))
    .max(20)
    .default(['node.role==worker'])
    .describe('Placement constraints of user servers and graders. @default ["node.role==worker"]'),
});

/** An environment without its courses (the composition API adds those one by one). */
export const EnvironmentSettingsSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,18}[a-z0-9]$/, {
        error: 'environment name must be 2-20 characters of a-z, 0-9 or "-", starting with a letter (it becomes a stack name and part of Docker names)',
      })
      .describe('Environment (stack) name: `cdktf deploy <name>`.'),
    hostname: z
      .string()
      .trim()
      .refine((v) => IPV4.test(v) || (HOSTNAME.test(v) && !/(?:^|\.)[0-9]+$/.test(v)), {
        error: 'hostname must be a DNS name (lower case, its last label not all digits) or an IPv4 address',
      })
      .default('localhost')
      .describe('Public hostname students use; in the certificate SANs.'),
    port: z
      .int({ error: 'port must be a whole number' })
      .min(1, { error: 'port must be between 1 and 65535' })
      .max(65535, { error: 'port must be between 1 and 65535' })
      .default(443)
      .describe('Published HTTPS port on the Docker host.'),
    bindAddress: z
      .string()
      .trim()
      .regex(IPV4, { error: 'bindAddress must be an IPv4 address such as "0.0.0.0" or "127.0.0.1"' })
      .default('0.0.0.0')
      .describe('Host address the HTTPS port is published on.'),
    tls: TlsSchema,
    lti11: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Accept LTI 1.1 launches at /hub/lti/launch.'),
        secretVersion: z
          .int({ error: 'lti11.secretVersion must be a whole number' })
          .min(1, { error: 'lti11.secretVersion must be 1 or more (raise it by one to rotate the shared secret)' })
          .max(1_000_000, { error: 'lti11.secretVersion must be at most 1000000' })
          .default(1)
          .describe('Raise by one to rotate the LTI 1.1 shared secret (a new one is generated; every LMS registration must get it). The consumer key stays.'),
      })
      .default({ enabled: true, secretVersion: 1 })
      .describe('LTI 1.1 (consumer key and shared secret generated by the random provider).'),
    lti13: Lti13Schema,
    embedding: z
      .strictObject({
        mode: z.enum(['window', 'iframe'], { error: 'embedding.mode must be "window" or "iframe"' }).default('window').describe('"window": the LMS opens a new window; "iframe": embedded, for allowedOrigins only.'),
        allowedOrigins: z
          .array(
            z
              .string()
              .trim()
              .regex(new RegExp(ORIGIN_PATTERN), {
                error: 'must be an exact https origin: "https://" + a lower-case host name or IPv4 address + an optional port, no wildcard, path or anything else, e.g. "https://lms.example.edu"',
              }),
          )
          .default([])
          .describe('LMS origins allowed to frame the hub (iframe mode).'),
      })
      .default({ mode: 'window', allowedOrigins: [] })
      .describe('How the LMS opens the tool. @default new window (JupyterHub forbids framing).'),
    images: z
      .strictObject({
        hubBase: imageReference('images.hubBase').optional().describe('Hub base image. @default quay.io/jupyterhub/jupyterhub (pinned)'),
        proxy: imageReference('images.proxy').optional().describe('Proxy image. @default quay.io/jupyterhub/configurable-http-proxy (pinned)'),
        caBundle: plainPath('images.caBundle').optional().describe('PEM CA bundle for pip/npm inside image builds (TLS-intercepting proxies), relative to the config file.'),
      })
      .default({})
      .describe('Base images and build-time package source.'),
    limits: z
      .strictObject({
        memory: memoryLimit.default('2G').describe('Memory per user server (and per grader), K/M/G/T suffix.'),
        cpus: cpuLimit.default(1).describe('CPUs per user server.'),
        serversPerUser: z
          .int({ error: 'limits.serversPerUser must be a whole number' })
          .min(1, { error: 'limits.serversPerUser must be at least 1' })
          .max(50)
          .default(3)
          .describe("Course servers one user may run at once (a student in several courses has one server per course)."),
      })
      .default({ memory: '2G', cpus: 1, serversPerUser: 3 })
      .describe('Per-user server limits; a course can set its own memory and cpus.'),
    idleCullSeconds: idleCull.default(3600).describe('Stop user servers idle this long; a course can set its own.'),
    demoLauncher: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Serve the demo launcher.'),
        port: z
          .int({ error: 'demoLauncher.port must be a whole number' })
          .min(1, { error: 'demoLauncher.port must be between 1 and 65535' })
          .max(65535, { error: 'demoLauncher.port must be between 1 and 65535' })
          .optional()
          .describe("Published HTTPS port of the launcher page. @default the hub's port + 1"),
        bindAddress: z
          .string()
          .trim()
          .regex(IPV4, { error: 'demoLauncher.bindAddress must be an IPv4 address such as "127.0.0.1"' })
          .default('127.0.0.1')
          .describe('Host address the launcher is published on. @default 127.0.0.1 (this machine only)'),
      })
      .default({ enabled: false, bindAddress: '127.0.0.1' })
      .describe(
        'A stand-in LMS for trying the environment without one: a page that sends signed LTI 1.1 and LTI 1.3 launches as a student or an instructor of each course, in a new window or an iframe. It becomes the LTI 1.3 platform of the environment. For demos only. @default off',
      ),
    dockerSocket: plainPath('dockerSocket').pipe(z.string().startsWith('/', { error: 'dockerSocket must be an absolute path' })).default('/var/run/docker.sock').describe('Host path of the Docker socket; mounted into the hub only.'),
    engine: z
      .enum(['docker', 'swarm'], { error: 'engine must be "docker" (one Docker host) or "swarm" (a Docker Swarm cluster; set swarm too)' })
      .default('docker')
      .describe('Where the environment runs: "docker", one Docker engine; "swarm", a Docker Swarm cluster (hub and proxy on a manager, user servers and graders on the nodes; see swarm).'),
    swarm: SwarmSchema.optional().describe('The cluster of engine "swarm": its registry, shared filesystem and service networking. Required with engine "swarm".'),
    state: StateSchema,
  })
  .describe('One environment: its own hub, proxy, network and Terraform stack.');

export const EnvironmentSchema = EnvironmentSettingsSchema.extend({
  courses: z
    .array(CourseSchema)
    .min(1, { error: 'declare at least one course' })
    .max(2000)
    .describe('Courses served by this hub.'),
}).describe('One environment: its own hub, proxy, network and Terraform stack.');

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path or URL of config.schema.json, for editors.'),
    version: z.literal(1, { error: 'version must be 1' }).default(1).describe('Config format version.'),
    environments: z.array(EnvironmentSchema).min(1, { error: 'declare at least one environment' }).describe('Environments; each is its own Terraform stack.'),
  })
  .describe('jupyterhub-lti-stack configuration.');

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type EnvironmentConfig = z.output<typeof EnvironmentSchema>;
export type CourseConfig = EnvironmentConfig['courses'][number];
export type EnvironmentSettings = z.output<typeof EnvironmentSettingsSchema>;
export type EnvironmentSettingsInput = z.input<typeof EnvironmentSettingsSchema>;
export type CourseInput = z.input<typeof CourseSchema>;
