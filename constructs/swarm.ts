/**
 * engine "swarm": the environment's long-running parts as Docker Swarm services, declared through
 * the provider's engine, which is a manager of the cluster (DOCKER_HOST). The single-host
 * constructs (hub.ts, http-proxy.ts, course.ts) stay as they are; these take the same facts
 * (contract.ts) and give the same containers what a cluster needs instead of what one engine
 * offers: images pushed to the cluster's registry, Docker secrets and configs in place of uploaded
 * files, the shared filesystem in place of local volumes, placement constraints, endpoint modes.
 */
import { Config } from '@cdktf/provider-docker/lib/config';
import { Image } from '@cdktf/provider-docker/lib/image';
import { RegistryImage } from '@cdktf/provider-docker/lib/registry-image';
import { Secret } from '@cdktf/provider-docker/lib/secret';
import { Service, ServiceConfig, ServiceTaskSpecContainerSpecMounts, ServiceTaskSpecContainerSpecSecrets } from '@cdktf/provider-docker/lib/service';
import { Fn, ITerraformDependable, Lazy } from 'cdktf';
import { dependable } from 'cdktf/lib/tfExpression';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildContext, BuiltImage, BuiltImageProps, IMAGES_DIR } from './built-image';
import { PATHS, PORTS, URL_PATHS } from './contract';
import { DataVolume } from './data-volume';
import { StackNames, stackLabels } from './naming';
import { IStackNetworks } from './network';

/** The cluster, as the config's `swarm` resolved it. */
export interface SwarmCluster {
  readonly registry: { readonly address: string; readonly auth: 'docker-config' | 'none'; readonly plainHttp: boolean };
  /** The shared filesystem's path on every node (or `nfs`). */
  readonly sharedRoot?: string;
  /** NFS volumes through the local volume driver (or `sharedRoot`). */
  readonly nfs?: { readonly address: string; readonly path: string; readonly options: string };
  readonly endpointMode: 'vip' | 'dnsrr';
  readonly publishMode: 'ingress' | 'host';
  /** Placement of user servers and graders. */
  readonly serverConstraints: readonly string[];
}

/** Where the hub and the proxy run: a manager (the hub drives the cluster through its Docker API). */
export const MANAGER_CONSTRAINT = 'node.role==manager';

/** The environment's directory on the shared filesystem, as every node sees it (sharedRoot form). */
export function sharedPath(cluster: SwarmCluster, names: StackNames, ...parts: string[]): string {
  return [cluster.sharedRoot, names.sharedDir, ...parts].join('/');
}

/**
 * A mount of the environment's shared storage: a bind mount of `<sharedRoot>/jhlti-<env>/<parts>`,
 * or an NFS volume of `<nfs.path>/jhlti-<env>/<parts>` (the local driver's nfs type, made by each
 * node's engine when a task needs it). `parts` empty: the whole shared root (the hub's view).
 */
export function sharedMount(cluster: SwarmCluster, names: StackNames, parts: readonly string[], target: string, readOnly = false): SharedMount {
  if (cluster.nfs === undefined) {
    return { type: 'bind', source: parts.length === 0 ? (cluster.sharedRoot as string) : sharedPath(cluster, names, ...parts), target, readOnly };
  }
  const device = parts.length === 0 ? cluster.nfs.path : [cluster.nfs.path, names.sharedDir, ...parts].join('/');
  return {
    type: 'volume',
    // "--" between the parts: no course id, server name or escaped user name contains it, so two
    // directories never share a volume name (a node would mount the first one's device for both).
    source: `${names.prefix}-nfs-${parts.length === 0 ? 'root' : parts.join('--')}`,
    target,
    readOnly,
    nfs: { type: 'nfs', o: `addr=${cluster.nfs.address},${cluster.nfs.options}`, device: `:${device}` },
  };
}

export interface SharedMount {
  readonly type: 'bind' | 'volume';
  readonly source: string;
  readonly target: string;
  readonly readOnly?: boolean;
  /** The local volume driver's options of an NFS volume. */
  readonly nfs?: Readonly<Record<string, string>>;
}

/** Service settings every service of the stack shares. */
function serviceDefaults(names: StackNames, role: string): Pick<ServiceConfig, 'labels' | 'convergeConfig'> {
  return {
    labels: stackLabels(names, role),
    // A deploy is done when the service's task runs (and, with a health check, is healthy).
    convergeConfig: { delay: '3s', timeout: '5m' },
  };
}

/**
 * What the provider reads back from the engine for a service, spelt out, so a deploy is followed
 * by an empty plan (the provider stores defaults it was not given and the network's id, and a
 * diff on networks_advanced replaces the service). The platforms the swarm records for a
 * registry image are left to it: declaring them would pin every node's architecture.
 */
export function settle(service: Service, networks: readonly { readonly id: string; readonly aliases?: readonly string[] }[], spec: { readonly healthcheck: boolean; readonly resources: boolean; readonly capAdd: boolean; readonly args: boolean; readonly command: boolean; readonly env: boolean }): void {
  service.addOverride('mode', { replicated: { replicas: 1 } });
  service.addOverride('task_spec.networks_advanced', networks.map((n) => ({ id: n.id, driver_opts: [], ...(n.aliases !== undefined ? { aliases: [...n.aliases] } : {}) })));
  const c = 'task_spec.container_spec';
  service.addOverride(`${c}.groups`, []);
  service.addOverride(`${c}.sysctl`, {});
  service.addOverride(`${c}.read_only`, false);
  if (!spec.capAdd) service.addOverride(`${c}.cap_add`, []);
  if (!spec.args) service.addOverride(`${c}.args`, []);
  if (!spec.command) service.addOverride(`${c}.command`, []);
  if (!spec.env) service.addOverride(`${c}.env`, {});
  if (!spec.healthcheck) service.addOverride(`${c}.healthcheck`, { test: [], interval: '0s', timeout: '0s', start_period: '0s', retries: 0 });
  if (!spec.resources) service.addOverride('task_spec.resources', {});
  service.addOverride('task_spec.placement.prefs', []);
  service.addOverride('task_spec.placement.max_replicas', 0);
  service.addOverride('task_spec.restart_policy.max_attempts', 0);
  service.addOverride('task_spec.restart_policy.window', '0s');
  // An empty dns_config comes back as a block the configuration cannot write (nameservers required).
  service.addOverride('lifecycle.ignore_changes', ['task_spec[0].placement[0].platforms', 'task_spec[0].container_spec[0].dns_config']);
}

/** Mounts as the provider reads them back (read_only always set). */
export function mountsOf(mounts: readonly SharedMount[]): ServiceTaskSpecContainerSpecMounts[] {
  return mounts.map((m) => ({
    type: m.type,
    source: m.source,
    target: m.target,
    readOnly: m.readOnly ?? false,
    ...(m.nfs !== undefined ? { volumeOptions: { driverName: 'local', driverOptions: { ...m.nfs } } } : {}),
  }));
}

/** Restart a task that stops, as `restart: unless-stopped` does on one engine. */
const RESTART = { condition: 'any', delay: '5s' } as const;
const LOG_DRIVER = { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } } as const;

/**
 * An image built on the manager and pushed to the cluster's registry under the same name, so every
 * node pulls it (no node builds). `name` is the pushed reference services use.
 */
export class PushedImage extends Construct {
  readonly built: BuiltImage;
  readonly push: RegistryImage;
  /** registry/name:tag@digest, a reference to the push (so a service waits for it). */
  readonly name: string;

  constructor(scope: Construct, id: string, props: BuiltImageProps & { readonly cluster: SwarmCluster }) {
    super(scope, id);
    const registry = props.cluster.registry.address;
    this.built = new BuiltImage(this, 'build', { ...props, name: (hash) => `${registry}/${props.name(hash)}` });
    // A replaced image is still referenced by the stopped tasks a service keeps in its history.
    this.built.image.forceRemove = true;
    this.push = new RegistryImage(this, 'push', {
      name: this.built.image.name,
      // Running services keep pulling it on new nodes; a destroy leaves the registry alone.
      keepRemotely: true,
      triggers: { image_id: this.built.image.imageId },
    });
    // As the swarm records it (pinned by digest), so a plan after a deploy is empty.
    this.name = `${this.push.name}@${this.push.sha256Digest}`;
  }
}

/**
 * A Docker secret holding one value. Secrets are immutable, so the name carries a digest of the
 * value and a new value is a new secret, created before the old one goes (services switch over).
 */
function secret(scope: Construct, id: string, names: StackNames, what: string, value: string): Secret {
  const s = new Secret(scope, id, {
    name: `${names.prefix}-${what}-${Fn.substr(Fn.sha256(value), 0, 12)}`,
    data: Fn.base64encode(value),
    labels: stackLabels(names, 'secret'),
    lifecycle: { createBeforeDestroy: true },
  });
  return s;
}

/** A Docker config (not secret) with a literal content known at synth time. */
function literalConfig(scope: Construct, id: string, names: StackNames, what: string, content: string): Config {
  const digest = createHash('sha256').update(content).digest('hex').slice(0, 12);
  return new Config(scope, id, {
    name: `${names.prefix}-${what}-${digest}`,
    data: Buffer.from(content).toString('base64'),
    lifecycle: { createBeforeDestroy: true },
  });
}

/** A Docker secret's file in a task, root-owned. */
function secretFile(s: Secret, fileName: string, mode = 0o600): ServiceTaskSpecContainerSpecSecrets {
  return { secretId: s.id, secretName: s.name, fileName, fileUid: '0', fileGid: '0', fileMode: mode };
}

export interface SwarmProxyProps {
  readonly names: StackNames;
  readonly networks: IStackNetworks;
  readonly cluster: SwarmCluster;
  readonly image: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly proxyToken: string;
  readonly port: number;
}

/**
 * The proxy's entry on a swarm: its API must listen on its own address on the control network
 * only (no user server may reach it), which a virtual IP is not; `tasks.<alias>` resolves to
 * that address. Then configurable-http-proxy as the image names it.
 */
const PROXY_ENTRY = [
  'alias="$1"; shift; n=0',
  'until ip="$(node -e \'require("dns").lookup(process.argv[1], { family: 4 }, (e, a) => { if (e) process.exit(1); console.log(a); })\' "tasks.$alias")"; do',
  '  n=$((n + 1)); if [ "$n" -ge 120 ]; then echo "no address of tasks.$alias on the control network" >&2; exit 1; fi; sleep 0.5',
  'done',
  'for chp in configurable-http-proxy /srv/configurable-http-proxy/chp-docker-entrypoint; do',
  '  if command -v "$chp" >/dev/null 2>&1; then exec "$chp" --api-ip "$ip" "$@"; fi',
  'done',
  'echo "configurable-http-proxy is not in this image" >&2; exit 1',
].join('\n');

/** configurable-http-proxy as a service on a manager, its HTTPS port published by the swarm. */
export class SwarmProxy extends Construct {
  readonly service: Service;

  constructor(scope: Construct, id: string, props: SwarmProxyProps) {
    super(scope, id);
    const { names, cluster } = props;
    const image = new Image(this, 'image', { name: props.image, keepLocally: true });
    const hubUrl = `http://${names.hub}:${PORTS.hub}`;
    const key = secret(this, 'tls-key', names, 'proxy-key', props.privateKeyPem);
    const cert = new Config(this, 'tls-cert', {
      name: `${names.prefix}-proxy-cert-${Fn.substr(Fn.sha256(props.certificatePem), 0, 12)}`,
      data: Fn.base64encode(props.certificatePem),
      lifecycle: { createBeforeDestroy: true },
    });
    this.service = new Service(this, 'service', {
      ...serviceDefaults(names, 'proxy'),
      name: names.proxy,
      taskSpec: {
        containerSpec: {
          image: image.name,
          user: '0:0',
          capDrop: ['ALL'],
          command: ['sh', '-c', PROXY_ENTRY, 'jhlti-proxy', names.proxyApiAlias],
          args: [
            '--port', String(PORTS.proxyHttps),
            '--api-port', String(PORTS.proxyApi),
            '--default-target', hubUrl,
            '--error-target', `${hubUrl}/hub/error`,
            '--ssl-cert', PATHS.proxyCertificate,
            '--ssl-key', PATHS.proxyKey,
          ],
          env: { CONFIGPROXY_AUTH_TOKEN: props.proxyToken },
          configs: [{ configId: cert.id, configName: cert.name, fileName: PATHS.proxyCertificate, fileUid: '0', fileGid: '0', fileMode: 0o444 }],
          secrets: [secretFile(key, PATHS.proxyKey)],
        },
        placement: { constraints: [MANAGER_CONSTRAINT] },
        restartPolicy: RESTART,
        logDriver: LOG_DRIVER,
      },
      endpointSpec: {
        mode: cluster.endpointMode,
        ports: [{ targetPort: PORTS.proxyHttps, publishedPort: props.port, publishMode: cluster.publishMode, protocol: 'tcp' }],
      },
    });
    settle(this.service, [{ id: props.networks.usersId }, { id: props.networks.controlId, aliases: [names.proxyApiAlias] }], {
      healthcheck: false, resources: false, capAdd: false, args: true, command: true, env: true,
    });
  }
}

export interface SwarmHubProps {
  readonly names: StackNames;
  readonly networks: IStackNetworks;
  readonly cluster: SwarmCluster;
  readonly baseImage: string;
  readonly caBundle?: string;
  /** PEM CA bundle file the hub trusts for outgoing HTTPS. @default - the image's trust store */
  readonly outgoingCaBundle?: string;
  /** The manager's Docker socket (SwarmSpawner creates the user servers' services through it). */
  readonly dockerSocket: string;
  readonly protectData?: boolean;
  readonly dependsOn?: ITerraformDependable[];
  /** stack.json, rendered when the stack is synthesized (courses may be added until then). */
  readonly stackFile: () => string;
}

/**
 * The hub as a service on a manager: its database on a local volume of that manager, the shared
 * filesystem mounted (it creates the environment's directories there and each user's home before
 * a spawn), stack.json as a Docker config and every secret file as a Docker secret (0600).
 */
export class SwarmHub extends Construct {
  readonly image: PushedImage;
  readonly dataVolume: DataVolume;
  readonly service: Service;
  private readonly names: StackNames;
  private readonly secretFiles: { readonly secret: Secret; readonly file: string }[] = [];

  constructor(scope: Construct, id: string, props: SwarmHubProps) {
    super(scope, id);
    const { names, cluster } = props;
    this.names = names;
    const context = new BuildContext(this, 'context', { source: join(IMAGES_DIR, 'hub'), caBundle: props.caBundle });
    this.image = new PushedImage(this, 'image', {
      cluster,
      context,
      buildArgs: { BASE_IMAGE: props.baseImage },
      name: (hash) => names.hubImage(hash),
      owner: { environment: names.environment },
    });
    // A local volume of the manager the provider talks to (the hub's placement).
    this.dataVolume = new DataVolume(this, 'data', { names, name: names.hubData, role: 'hub-data', protect: props.protectData });
    // stack.json: named after its content, known once every course is added (it is plain,
    // Terraform-safe JSON without references: terraform-text.ts).
    let rendered: string | undefined;
    const stackFile = () => (rendered ??= props.stackFile());
    const stackConfig = new Config(this, 'stack-file', {
      name: Lazy.stringValue({ produce: () => `${names.prefix}-stack-${createHash('sha256').update(stackFile()).digest('hex').slice(0, 12)}` }),
      data: Lazy.stringValue({ produce: () => Buffer.from(stackFile()).toString('base64') }),
      lifecycle: { createBeforeDestroy: true },
    });
    const configs: Record<string, unknown>[] = [{ config_id: stackConfig.id, config_name: stackConfig.name, file_name: PATHS.hubStackFile, file_uid: '0', file_gid: '0', file_mode: 0o444 }];
    if (props.outgoingCaBundle !== undefined) {
      const ca = literalConfig(this, 'outgoing-ca', names, 'outgoing-ca', readFileSync(props.outgoingCaBundle, 'utf8'));
      configs.push({ config_id: ca.id, config_name: ca.name, file_name: PATHS.hubOutgoingCa, file_uid: '0', file_gid: '0', file_mode: 0o444 });
    }
    this.service = new Service(this, 'service', {
      ...serviceDefaults(names, 'hub'),
      name: names.hub,
      taskSpec: {
        containerSpec: {
          image: this.image.name,
          // Root for the Docker socket and for the directories it creates on the shared
          // filesystem (its own, root-owned, as a new volume is); no capability is needed.
          capDrop: ['ALL'],
          mounts: mountsOf([
            { type: 'volume', source: this.dataVolume.name, target: PATHS.hubDataDir },
            { type: 'bind', source: props.dockerSocket, target: PATHS.dockerSocket },
            sharedMount(cluster, names, [], PATHS.hubSharedRoot),
          ]),
          env: props.outgoingCaBundle === undefined ? undefined : { SSL_CERT_FILE: PATHS.hubOutgoingCa },
          // Terraform's snake_case keys: resolved at synth, when every secret file is known.
          configs: Lazy.anyValue({ produce: () => configs }) as never,
          secrets: Lazy.anyValue({
            produce: () =>
              this.secretFiles.map(({ secret: s, file }) => ({
                secret_id: s.id,
                secret_name: s.name,
                file_name: `${PATHS.hubSecretsDir}/${file}`,
                file_uid: '0',
                file_gid: '0',
                file_mode: 0o600,
              })),
          }) as never,
          healthcheck: {
            test: ['CMD', 'python3', '-c', `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORTS.hub}${URL_PATHS.health}', timeout=4)`],
            interval: '5s',
            timeout: '5s',
            retries: 6,
            startPeriod: '45s',
          },
        },
        placement: { constraints: [MANAGER_CONSTRAINT] },
        restartPolicy: RESTART,
        logDriver: LOG_DRIVER,
      },
      // One hub at a time: its sqlite database does not take two writers.
      updateConfig: { order: 'stop-first', parallelism: 1 },
      endpointSpec: { mode: cluster.endpointMode },
      dependsOn: props.dependsOn,
    });
    settle(this.service, [{ id: props.networks.usersId }, { id: props.networks.controlId }], {
      healthcheck: true, resources: false, capAdd: false, args: false, command: false, env: props.outgoingCaBundle !== undefined,
    });
  }

  /** A secret file of the hub (images/CONTRACT.md), as a Docker secret. */
  addSecretFile(file: string, value: string): void {
    const s = secret(this, `secret-${file.replace(/[^a-z0-9-]/gi, '-')}`, this.names, file.replace(/[^a-z0-9-]/gi, '-').slice(0, 30), value);
    this.secretFiles.push({ secret: s, file });
  }

  /** Images a spawn may use: the hub must not start before they are in the registry. */
  addSpawnDependencies(dependencies: readonly ITerraformDependable[]): void {
    this.service.dependsOn = [...(this.service.dependsOn ?? []), ...dependencies.map((d) => dependable(d))];
  }
}
