import type { ResolvedEnvironment } from './config/rules';
import { memoryBytes } from './container-defaults';
import { PORTS, StackNames } from './naming';

/** First uid of student/instructor accounts: uid = UID_BASE + JupyterHub user id. */
export const UID_BASE = 20000;

/** A course as the hub sees it (stack.json `courses[]`). */
export interface StackFileCourse {
  readonly id: string;
  readonly image: string;
}

/**
 * Renders /srv/jupyterhub/stack.json: everything the hub needs to know about its environment,
 * and no secrets (those are separate 0600 files). Schema: images/CONTRACT.md.
 */
export function renderStackFile(env: ResolvedEnvironment, names: StackNames, courseImages: ReadonlyMap<string, string>, publicUrl: string): string {
  const lti13 = env.lti13;
  const doc = {
    schema_version: 1,
    environment: env.name,
    public_url: publicUrl,
    name_prefix: names.prefix,
    hub_bind_url: `http://0.0.0.0:${PORTS.hub}`,
    hub_connect_url: `http://${names.hub}:${PORTS.hub}`,
    proxy_api_url: `http://${names.proxyApiAlias}:${PORTS.proxyApi}`,
    docker_network: names.usersNetwork,
    exchange_volume: names.exchange,
    uid_base: UID_BASE,
    lti11: { enabled: env.lti11.enabled },
    lti13: {
      enabled: lti13.enabled,
      issuer: lti13.issuer ?? null,
      client_ids: lti13.clientIds,
      authorize_url: lti13.authorizeUrl ?? null,
      jwks_url: lti13.jwksUrl ?? null,
      deployment_ids: lti13.deploymentIds,
    },
    frame_ancestors: env.embedding.mode === 'iframe' ? env.embedding.allowedOrigins : [],
    limits: { memory_bytes: memoryBytes(env.limits.memory), cpus: env.limits.cpus },
    idle_cull_seconds: env.idleCullSeconds,
    courses: env.courses.map((c) => ({
      id: c.id,
      title: c.title,
      context_ids: c.contexts,
      image: courseImages.get(c.id),
      allowed_images: c.allowedImages,
      volume: names.courseVolume(c.id),
      grader_url: `http://${names.grader(c.id)}:${PORTS.notebook}`,
      grader_uid: c.graderUid,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
