import { Network } from '@cdktf/provider-docker/lib/network';
import { TerraformOutput } from 'cdktf';
import { dependable } from 'cdktf/lib/tfExpression';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { BuildContext, IMAGES_DIR } from './built-image';
import { CONTRACT_VERSION, PORTS, URL_PATHS, serviceTokenFile, signingKeyFile } from './contract';
import { ConfigError, ConfigIssue } from './config/errors';
import { ImageProfile } from './config/images';
import { toConfigIssues } from './config/issues';
import { CourseRules, ResolvedCourse, ResolvedEnvironmentSettings, resolveEnvironmentSettings } from './config/rules';
import { CourseSchema, EnvironmentSettingsInput, EnvironmentSettingsSchema, memoryBytes } from './config/schema';
import { Course, CoursePrewarm, ICourse } from './course';
import { DataVolume } from './data-volume';
import { DEMO_LAUNCHER_FILES, DemoLauncher } from './demo-launcher';
import { Hub } from './hub';
import { HttpProxy } from './http-proxy';
import { StackNames, stackLabels } from './naming';
import { StackNetworks } from './network';
import { HubSecrets } from './secrets';
import { StackFileCourse, renderStackFile } from './stack-file';
import { StackTls } from './tls';
import { SwarmCluster, SwarmHub, SwarmProxy } from './swarm';

/** TLS of the proxy: a self-signed certificate from the tls provider, or your own files. */
export type TlsOptions =
  | {
      readonly mode: 'self-signed';
      /** @default "ECDSA" */
      readonly algorithm?: 'ECDSA' | 'RSA';
      /** @default "P256" */
      readonly ecdsaCurve?: 'P256' | 'P384';
      /** At least 3072. @default 3072 */
      readonly rsaBits?: number;
      /** @default 365 */
      readonly validityDays?: number;
    }
  | {
      readonly mode: 'provided';
      /** PEM certificate (chain), relative to `baseDir`. */
      readonly certFile: string;
      /** PEM private key, relative to `baseDir`; read by Terraform, never copied into cdktf.out. */
      readonly keyFile: string;
    };

export interface Lti13Options {
  /** @default false */
  readonly enabled?: boolean;
  /** Platform issuer (`iss`). Required when enabled. */
  readonly issuer?: string;
  /** Client ids the platform issued for this tool. Required when enabled. @default [] */
  readonly clientIds?: readonly string[];
  /** Platform OIDC authorization endpoint. Required when enabled. */
  readonly authorizeUrl?: string;
  /** Platform JWKS endpoint. Required when enabled. */
  readonly jwksUrl?: string;
  /** Accepted deployment ids. @default [] (any) */
  readonly deploymentIds?: readonly string[];
  /** Platform OAuth2 token endpoint, for grade passback over AGS. @default - no LTI 1.3 grade passback */
  readonly tokenUrl?: string;
  /** Names of the tool's signing keys (generated; all in the JWKS, the first signs). @default ["1"] */
  readonly signingKeys?: readonly string[];
  /** PEM CAs the hub trusts for its outgoing HTTPS, relative to `baseDir`. @default - the image's trust store */
  readonly platformCaBundle?: string;
}

/** The settings of an environment; the same keys and defaults as an environment in a config file. */
export interface TeachingEnvironmentSettings {
  /** 2-20 characters of a-z, 0-9 and "-", starting with a letter; part of every Docker name (`jhlti-<name>-...`). */
  readonly name: string;
  /** Public hostname students use; in the certificate SANs. @default "localhost" */
  readonly hostname?: string;
  /** Published HTTPS port on the Docker host. @default 443 */
  readonly port?: number;
  /** Host address the HTTPS port is published on. @default "0.0.0.0" */
  readonly bindAddress?: string;
  /** @default self-signed ECDSA P-256 */
  readonly tls?: TlsOptions;
  /** LTI 1.1 with a generated consumer key and secret. @default { enabled: true } */
  /**
   * LTI 1.1 with a generated consumer key and shared secret; raising `secretVersion` rotates the
   * shared secret (the consumer key stays). @default { enabled: true, secretVersion: 1 }
   */
  readonly lti11?: { readonly enabled?: boolean; readonly secretVersion?: number };
  /** @default { enabled: false } */
  readonly lti13?: Lti13Options;
  /** How the LMS opens the tool. @default { mode: "window" } (JupyterHub refuses framing) */
  readonly embedding?: { readonly mode?: 'window' | 'iframe'; readonly allowedOrigins?: readonly string[] };
  /**
   * A stand-in LMS page for trying the environment without an LMS (signed LTI 1.1 and 1.3
   * launches as a student or instructor); it becomes the LTI 1.3 platform. Demos only.
   * @default { enabled: false } (port: the hub's + 1, bindAddress: "127.0.0.1")
   */
  readonly demoLauncher?: { readonly enabled?: boolean; readonly port?: number; readonly bindAddress?: string };
  /** Base images (pinned) and a CA bundle for package downloads in image builds. @default {} (official pinned images) */
  readonly images?: { readonly hubBase?: string; readonly proxy?: string; readonly caBundle?: string };
  /** Server limits: per course server, and how many course servers a user may run. @default { memory: "2G", cpus: 1, serversPerUser: 3 } */
  readonly limits?: { readonly memory?: string; readonly cpus?: number; readonly serversPerUser?: number };
  /** Stop user servers idle this long (300..604800). @default 3600 */
  readonly idleCullSeconds?: number;
  /** Host path of the Docker socket (mounted into the hub only). @default "/var/run/docker.sock" */
  readonly dockerSocket?: string;
  /** Where the environment runs: one Docker engine, or a Docker Swarm cluster (set `swarm`). @default "docker" */
  readonly engine?: 'docker' | 'swarm';
  /** The cluster of engine "swarm". Required with engine "swarm". */
  readonly swarm?: SwarmOptions;
}

/** A Docker Swarm cluster: the provider's engine is one of its managers (DOCKER_HOST). */
export interface SwarmOptions {
  /** The registry every node pulls the stack's images from; the stack pushes them there. */
  readonly registry: {
    /** host[:port][/path], no scheme. */
    readonly address: string;
    /** "docker-config": the credentials of `docker login`; "none": no authentication. @default "docker-config" */
    readonly auth?: 'docker-config' | 'none';
    /** Plain HTTP (an insecure registry of every node's engine). @default false */
    readonly plainHttp?: boolean;
  };
  /** A shared filesystem mounted at this absolute path on every node. Either this or `nfs`. */
  readonly sharedRoot?: string;
  /** NFS volumes through Docker's local volume driver. Either this or `sharedRoot`. */
  readonly nfs?: { readonly address: string; readonly path: string; readonly options?: string };
  /** "vip" (needs IPVS) or "dnsrr". @default "vip" */
  readonly endpointMode?: 'vip' | 'dnsrr';
  /** "ingress" (routing mesh, every node) or "host" (the proxy's node). @default "ingress" */
  readonly publishMode?: 'ingress' | 'host';
  /** Placement constraints of user servers and graders. @default ["node.role==worker"] */
  readonly serverConstraints?: readonly string[];
}

/** A course; the same keys and defaults as a course in a config file. */
export interface CourseOptions {
  /** nbgrader course id and grader service name: 2-32 characters of a-z and 0-9 with single "-" or "_" between. */
  readonly id: string;
  readonly title: string;
  /** LMS context ids (LTI 1.1 `context_id`, LTI 1.3 context claim `id`) that launch into this course. */
  readonly contexts: readonly string[];
  /** @default ["python"] */
  readonly kernels?: readonly ('python' | 'r' | 'julia')[];
  /** Base of the course's notebook image. @default chosen from `kernels` (pinned official image) */
  readonly notebookBase?: string;
  /** Further images a launch may choose (custom parameter `image`). @default [] */
  readonly allowedImages?: readonly string[];
  /** Unix uid of the course's grader account (1001-19999). @default derived from the course id */
  readonly graderUid?: number;
  /** Send the course's nbgrader scores to the LMS after autograde. @default false */
  readonly gradePassback?: boolean;
  /** This course's server limits. @default the environment's */
  readonly limits?: { readonly memory?: string; readonly cpus?: number };
  /** Stop this course's servers idle this long. @default the environment's */
  readonly idleCullSeconds?: number;
  /**
   * Start the servers of the course's known students ahead of its weekly sessions (and when an
   * instructor asks). @default none
   */
  readonly prewarm?: { readonly sessions?: readonly string[]; readonly timezone?: string; readonly leadMinutes?: number; readonly concurrency?: number };
}

export interface TeachingEnvironmentProps extends TeachingEnvironmentSettings {
  /** Courses to add at once; `addCourse` adds more. @default [] (at least one is needed before synth) */
  readonly courses?: readonly CourseOptions[];
  /** Refuse to destroy data volumes (hub DB, exchange, courses). @default true */
  readonly protectData?: boolean;
  /** Which default base images: pinned `official` upstream images, or the `local` stand-ins. @default "official" */
  readonly imageProfile?: ImageProfile;
  /** Directory relative file paths are read from. @default the current directory */
  readonly baseDir?: string;
  /** Directory Terraform runs this stack in (provided TLS files are referenced relative to it). @default cdktf.out/stacks/<stack id> */
  readonly stackDir?: string;
}

// The props accept exactly what the config schema accepts (checked by the compiler).
const settingsMatchSchema = (s: TeachingEnvironmentSettings): Omit<EnvironmentSettingsInput, 'state'> => s as Omit<EnvironmentSettingsInput, 'state'>;
void settingsMatchSchema;

/**
 * A complete teaching environment inside any cdktf stack: networks, TLS, secrets, the proxy,
 * the hub, the exchange and uid-map volumes, and its courses (`addCourse`). It declares no
 * provider and no backend: the stack that holds it provides the docker, tls and random
 * providers (see `EnvironmentStack` for a ready one). Bad settings throw a ConfigError naming
 * the field, the value and the fix.
 */
export class TeachingEnvironment extends Construct {
  readonly settings: ResolvedEnvironmentSettings;
  readonly names: StackNames;
  /** `https://<hostname>[:<port>]` */
  readonly publicUrl: string;
  readonly networks: StackNetworks;
  readonly tls: StackTls;
  readonly secrets: HubSecrets;
  /** The exchange volume (engine "docker"; a swarm keeps the exchange on its shared filesystem). */
  readonly exchange?: DataVolume;
  /** The uid-map volume (engine "docker"). */
  readonly uidMap?: DataVolume;
  readonly proxy: HttpProxy | SwarmProxy;
  readonly hub: Hub | SwarmHub;
  /** engine "swarm": the cluster. */
  readonly swarm?: SwarmCluster;
  /** The demo launcher, when the settings enable it. */
  readonly demoLauncher?: DemoLauncher;
  private readonly coursesById = new Map<string, Course>();
  private readonly courseRules: CourseRules;
  private readonly notebookContext: BuildContext;
  private readonly protectData: boolean;
  private readonly issues: ConfigIssue[] = [];

  /**
   * @param resolved internal: settings already validated and resolved by a config file's rules
   */
  constructor(scope: Construct, id: string, props: TeachingEnvironmentProps, resolved?: ResolvedEnvironmentSettings) {
    super(scope, id);
    const settings = resolved ?? this.resolveSettings(props);
    this.settings = settings;
    this.protectData = props.protectData ?? true;
    const names = (this.names = new StackNames(settings.name));
    this.publicUrl = `https://${settings.hostname}${settings.port === 443 ? '' : `:${settings.port}`}`;
    this.courseRules = new CourseRules(settings, (i) => `courses[${i}]`, (path, message, value) => this.issues.push({ path, message, value }));

    const cluster = settings.engine === 'swarm' ? settings.swarm : undefined;
    this.swarm = cluster;
    this.networks = new StackNetworks(this, 'networks', { names, driver: cluster === undefined ? 'bridge' : 'overlay' });
    this.tls = new StackTls(this, 'tls-cert', {
      tls: settings.tls,
      hostname: settings.hostname,
      stackDir: props.stackDir ?? join(process.cwd(), 'cdktf.out', 'stacks', scopeStackId(this)),
    });
    this.secrets = new HubSecrets(this, 'secrets', { lti11: settings.lti11.enabled, lti11SecretVersion: settings.lti11.secretVersion, signingKeys: settings.lti13.enabled ? settings.lti13.signingKeys : [] });
    this.notebookContext = new BuildContext(this, 'notebook-context', { source: join(IMAGES_DIR, 'notebook'), caBundle: settings.images.caBundle });
    if (cluster !== undefined) {
      this.proxy = new SwarmProxy(this, 'proxy', {
        names,
        networks: this.networks,
        cluster,
        image: settings.images.proxy,
        certificatePem: this.tls.certificatePem,
        privateKeyPem: this.tls.privateKeyPem,
        proxyToken: this.secrets.proxyToken,
        port: settings.port,
      });
      const hub = new SwarmHub(this, 'hub', {
        names,
        networks: this.networks,
        cluster,
        baseImage: settings.images.hubBase,
        caBundle: settings.images.caBundle,
        dockerSocket: settings.dockerSocket,
        outgoingCaBundle: settings.platformCaBundle,
        protectData: this.protectData,
        dependsOn: [this.proxy.service],
        stackFile: () => this.renderStackFile(),
      });
      for (const file of this.secrets.hubFiles()) hub.addSecretFile(file.name, file.value);
      this.hub = hub;
      this.node.addValidation({ validate: () => (this.coursesById.size === 0 ? [`TeachingEnvironment "${settings.name}" has no course; add one with addCourse()`] : []) });
      for (const course of props.courses ?? []) this.addCourse(course);
      return;
    }
    this.exchange = new DataVolume(this, 'exchange', { names, name: names.exchange, role: 'exchange', protect: this.protectData });
    // Which uid each hub user's server runs as: written by the hub, read by graders to reject
    // submissions filed under another student's name. Never mounted into user servers.
    this.uidMap = new DataVolume(this, 'uid-map', { names, name: names.uidMap, role: 'uid-map', protect: this.protectData });

    const proxy = new HttpProxy(this, 'proxy', {
      names,
      networks: this.networks,
      image: settings.images.proxy,
      certificatePem: this.tls.certificatePem,
      privateKeyPem: this.tls.privateKeyPem,
      proxyToken: this.secrets.proxyToken,
      port: settings.port,
      bindAddress: settings.bindAddress,
    });
    this.proxy = proxy;
    // The demo launcher's network: only the hub and the launcher (its keyset for LTI 1.3).
    const launcherNetwork = settings.demoLauncher === undefined
      ? undefined
      : new Network(this, 'launcher-network', { name: names.launcherNetwork, driver: 'bridge', labels: stackLabels(names, 'launcher-network') });
    const hub = new Hub(this, 'hub', {
      names,
      networks: this.networks,
      baseImage: settings.images.hubBase,
      caBundle: settings.images.caBundle,
      uidMap: this.uidMap,
      dockerSocket: settings.dockerSocket,
      outgoingCaBundle: settings.platformCaBundle,
      protectData: this.protectData,
      extraNetworks: launcherNetwork === undefined ? undefined : [launcherNetwork.name],
      // Routes go to a running proxy.
      dependsOn: [proxy.container],
      runtime: () => ({ stackFile: this.renderStackFile(), secretFiles: this.secrets.hubFiles() }),
    });
    this.hub = hub;
    if (settings.demoLauncher !== undefined && launcherNetwork !== undefined) {
      const lti11 = this.secrets.lti11ConsumerKey !== undefined && this.secrets.lti11SharedSecret !== undefined
        ? { key: this.secrets.lti11ConsumerKey, secret: this.secrets.lti11SharedSecret }
        : undefined;
      this.demoLauncher = new DemoLauncher(this, 'demo-launcher', {
        names,
        image: hub.image.image.imageId,
        network: launcherNetwork.name,
        port: settings.demoLauncher.port,
        bindAddress: settings.demoLauncher.bindAddress,
        certificatePem: this.tls.certificatePem,
        privateKeyPem: this.tls.privateKeyPem,
        lti11,
        stackFile: () => this.renderStackFile(),
      });
      // It needs the hub's routes and keyset up before a launch can work.
      this.demoLauncher.container.dependsOn = [dependable(hub.container)];
    }
    this.node.addValidation({ validate: () => (this.coursesById.size === 0 ? [`TeachingEnvironment "${settings.name}" has no course; add one with addCourse()`] : []) });
    for (const course of props.courses ?? []) this.addCourse(course);
  }

  /** The courses added so far, in order. */
  get courses(): Course[] {
    return [...this.coursesById.values()];
  }

  /** Adds a course (validated like a course in a config file) and returns its construct. */
  addCourse(options: CourseOptions): Course {
    const parsed = CourseSchema.safeParse(options, { reportInput: true });
    const at = `courses[${this.coursesById.size}]`;
    if (!parsed.success) throw new ConfigError(`TeachingEnvironment "${this.settings.name}"`, parsed.error.issues.flatMap((i) => toConfigIssues(i, at)));
    return this.addResolvedCourse(this.courseRules.resolve(parsed.data, this.coursesById.size));
  }

  /** @internal a course already checked by a config file's rules (its grader uid assigned for the whole list) */
  addResolvedCourse(course: ResolvedCourse): Course {
    if (this.issues.length > 0) {
      const issues = this.issues.splice(0);
      throw new ConfigError(`TeachingEnvironment "${this.settings.name}"`, issues);
    }
    const serviceToken = this.secrets.addServiceToken(course.id);
    const added = new Course(this, `course-${course.id}`, {
      environment: {
        names: this.names,
        networks: this.networks,
        notebookContext: this.notebookContext,
        exchange: this.exchange,
        uidMap: this.uidMap,
        limits: { memory: this.settings.limits.memory, cpus: this.settings.limits.cpus, idleCullSeconds: this.settings.idleCullSeconds },
        protectData: this.protectData,
        frameAncestors: this.settings.embedding.mode === 'iframe' ? this.settings.embedding.allowedOrigins : [],
        publicUrl: this.publicUrl,
        swarm: this.swarm,
      },
      courseId: course.id,
      title: course.title,
      contexts: course.contexts,
      notebookBase: course.notebookBase,
      allowedImages: course.allowedImages,
      graderUid: course.graderUid,
      gradePassback: course.gradePassback,
      memory: course.limits.memory,
      cpus: course.limits.cpus,
      idleCullSeconds: course.idleCullSeconds,
      prewarm: course.prewarm,
      serviceToken,
    });
    this.coursesById.set(course.id, added);
    this.hub.addSpawnDependencies(added.spawnDependencies);
    if (this.hub instanceof SwarmHub) {
      this.hub.addSecretFile(serviceTokenFile(course.id), serviceToken);
    } else if (added.volume !== undefined) {
      this.hub.addCourseVolume(course.id, added.volume.name);
    }
    return added;
  }

  /**
   * LMS registration values as Terraform outputs named `<prefix>hub_url`, `<prefix>lti11_launch_url`, ...;
   * secrets are sensitive. Give each environment its own prefix when a stack holds several.
   */
  declareOutputs(prefix = ''): void {
    const out = (id: string, value: string, description: string, sensitive = false) => {
      // Exactly `<prefix><id>` in Terraform, wherever this construct sits in the tree.
      new TerraformOutput(this, `${prefix}${id}`, { value, description, sensitive }).overrideLogicalId(`${prefix}${id}`);
    };
    out('hub_url', `${this.publicUrl}${URL_PATHS.hub}`, 'JupyterHub URL.');
    if (this.settings.demoLauncher !== undefined) {
      out('demo_launcher_url', `${this.settings.demoLauncher.url}/`, 'The demo launcher: try launches without an LMS (this machine only by default).');
    }
    out('tls_certificate_pem', this.tls.certificatePem, 'Certificate the proxy serves (for LMS trust stores when self-signed).');
    if (this.secrets.lti11ConsumerKey !== undefined && this.secrets.lti11SharedSecret !== undefined) {
      out('lti11_launch_url', `${this.publicUrl}${URL_PATHS.lti11Launch}`, 'LTI 1.1 launch URL to register in the LMS.');
      out('lti11_config_xml_url', `${this.publicUrl}${URL_PATHS.lti11Config}`, 'LTI 1.1 tool configuration XML (Canvas "By URL").');
      out('lti11_consumer_key', this.secrets.lti11ConsumerKey, 'LTI 1.1 consumer key.', true);
      out('lti11_shared_secret', this.secrets.lti11SharedSecret, 'LTI 1.1 shared secret.', true);
    }
    if (this.settings.lti13.enabled) {
      out('lti13_login_initiation_url', `${this.publicUrl}${URL_PATHS.lti13Login}`, 'LTI 1.3 OIDC login initiation URL.');
      out('lti13_redirect_url', `${this.publicUrl}${URL_PATHS.lti13Callback}`, 'LTI 1.3 redirect (launch) URL.');
      out('lti13_config_url', `${this.publicUrl}${URL_PATHS.lti13Config}`, 'LTI 1.3 tool configuration JSON (Canvas developer key "Enter URL").');
      out('lti13_jwks_url', `${this.publicUrl}${URL_PATHS.lti13Jwks}`, "The tool's public keyset (JWKS URL / public keyset in the LMS registration).");
      if (this.settings.lti13.dynamicRegistration) {
        out('lti13_dynamic_registration_url', `${this.publicUrl}${URL_PATHS.lti13DynamicRegistration}`, 'LTI Dynamic Registration (the LMS admin pastes the URL `registration-token <env>` prints, which adds a one-time token).');
      }
    }
  }

  private resolveSettings(props: TeachingEnvironmentProps): ResolvedEnvironmentSettings {
    const source = `TeachingEnvironment "${props.name}"`;
    const input = {
      name: props.name,
      hostname: props.hostname,
      port: props.port,
      bindAddress: props.bindAddress,
      tls: props.tls,
      lti11: props.lti11,
      lti13: props.lti13,
      embedding: props.embedding,
      demoLauncher: props.demoLauncher,
      images: props.images,
      limits: props.limits,
      idleCullSeconds: props.idleCullSeconds,
      dockerSocket: props.dockerSocket,
      engine: props.engine,
      swarm: props.swarm,
    };
    const parsed = EnvironmentSettingsSchema.safeParse(input, { reportInput: true });
    if (!parsed.success) throw new ConfigError(source, parsed.error.issues.flatMap((i) => toConfigIssues(i)));
    const issues: ConfigIssue[] = [];
    const settings = resolveEnvironmentSettings(parsed.data, '', {
      profile: props.imageProfile ?? 'official',
      baseDir: props.baseDir ?? process.cwd(),
      add: (path, message, value) => issues.push({ path, message, value }),
    });
    if (issues.length > 0) throw new ConfigError(source, issues);
    return settings;
  }

  /** stack.json as the hub reads it (images/CONTRACT.md), for the courses added so far. */
  renderStackFile(): string {
    const s = this.settings;
    const names = this.names;
    const courses: ICourse[] = this.courses;
    return renderStackFile({
      schema_version: CONTRACT_VERSION,
      environment: s.name,
      public_url: this.publicUrl,
      hub_bind_url: `http://0.0.0.0:${PORTS.hub}`,
      hub_connect_url: `http://${names.hub}:${PORTS.hub}`,
      proxy_api_url: `http://${names.proxyApiAlias}:${PORTS.proxyApi}`,
      docker: {
        network: names.usersNetwork,
        exchange_volume: names.exchange,
        server_name_template: names.userServerTemplate,
        home_volume_template: names.homeVolumeTemplate,
        legacy_home_volume_template: names.legacyHomeVolumeTemplate,
      },
      lti11: { enabled: s.lti11.enabled },
      lti13:
        s.lti13Platforms.length > 0
          ? {
              enabled: true,
              platforms: s.lti13Platforms.map((p) => ({
                issuer: p.issuer,
                client_ids: [...p.clientIds],
                authorize_url: p.authorizeUrl,
                jwks_url: p.jwksUrl,
                deployment_ids: [...p.deploymentIds],
                token_url: p.tokenUrl ?? null,
              })),
              dynamic_registration: s.lti13.dynamicRegistration,
              signing_keys: s.lti13.signingKeys.map((name) => ({ name, secret_file: signingKeyFile(name) })),
            }
          : { enabled: false, platforms: [], dynamic_registration: false, signing_keys: [] },
      frame_ancestors: s.embedding.mode === 'iframe' ? s.embedding.allowedOrigins : [],
      demo_launcher:
        s.demoLauncher === undefined
          ? null
          : {
              url: s.demoLauncher.url,
              client_id: s.demoLauncher.clientId,
              deployment_id: s.demoLauncher.deploymentId,
              https_port: PORTS.demoLauncherHttps,
              jwks_port: PORTS.demoLauncherJwks,
              platform_key_file: DEMO_LAUNCHER_FILES.platformKey,
              tls_certificate_file: DEMO_LAUNCHER_FILES.tlsCertificate,
              tls_key_file: DEMO_LAUNCHER_FILES.tlsKey,
            },
      swarm:
        s.swarm === undefined
          ? null
          : {
              shared_root: s.swarm.sharedRoot ?? null,
              nfs: s.swarm.nfs === undefined ? null : { ...s.swarm.nfs },
              environment_dir: names.sharedDir,
              endpoint_mode: s.swarm.endpointMode,
              constraints: [...s.swarm.serverConstraints],
            },
      limits: { servers_per_user: s.limits.serversPerUser },
      // The hub's culler is the backstop: no course may wait longer than it.
      idle_cull_seconds: Math.max(s.idleCullSeconds, ...courses.map((c) => c.idleCullSeconds)),
      courses: courses.map((c) => ({
        id: c.courseId,
        title: c.title,
        context_ids: [...c.contexts],
        image: c.imageName,
        allowed_images: [...c.allowedImages],
        volume: c.volumeName,
        grader_url: c.graderUrl,
        grader_uid: c.graderUid,
        grade_passback: c.gradePassback,
        server_name: c.serverName,
        limits: { memory_bytes: memoryBytes(c.memory), cpus: c.cpus },
        idle_cull_seconds: c.idleCullSeconds,
        prewarm: c.prewarm === undefined ? null : prewarmSchedule(c.prewarm),
        grader_user: c.graderUser,
        oauth_client_id: c.oauthClientId,
        service_token_file: serviceTokenFile(c.courseId),
      })),
    });
  }
}

function scopeStackId(construct: Construct): string {
  return construct.node.scopes[1]?.node.id ?? construct.node.id;
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A course's pre-warm as the hub reads it: weekdays 0 (Monday) to 6, times as hour and minute. */
function prewarmSchedule(p: CoursePrewarm): NonNullable<StackFileCourse['prewarm']> {
  return {
    sessions: p.sessions.map((session) => {
      const [day, time] = session.split(' ');
      const [hour, minute] = time.split(':').map(Number);
      return { weekday: WEEKDAYS.indexOf(day), hour, minute };
    }),
    timezone: p.timezone,
    lead_seconds: p.leadMinutes * 60,
    concurrency: p.concurrency,
  };
}
