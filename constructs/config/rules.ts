/**
 * Cross-field rules the schema alone cannot express, and resolution of defaults that depend
 * on other fields (images from the profile, grader uids, files relative to the config).
 *
 * The same rules serve both ways in: a config file (`applyRules`, all environments at once) and
 * the composition API (`resolveEnvironmentSettings` + `CourseRules`, one course at a time).
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BUILT_IN_SERVICES, DNS_LABEL_MAX, IPV4_PATTERN, PORTS } from '../contract';
import { StackNames, courseServerName } from '../naming';
import { AddIssue, ConfigIssue } from './errors';
import { ImageProfile, notebookFlavour, profileImages } from './images';
import type { Config, CourseConfig, EnvironmentSettings } from './schema';

export interface ResolvedCourse extends CourseConfig {
  readonly notebookBase: string;
  readonly graderUid: number;
}

export interface ResolvedTls {
  readonly mode: 'self-signed' | 'provided';
  readonly algorithm: 'ECDSA' | 'RSA';
  readonly ecdsaCurve: 'P256' | 'P384';
  readonly rsaBits: number;
  readonly validityDays: number;
  /** Absolute paths, provided mode only. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** The demo launcher as resolved: where browsers reach it and what it is to the hub. */
export interface ResolvedDemoLauncher {
  readonly port: number;
  readonly bindAddress: string;
  /** `https://<host>:<port>`: the page's origin and the LTI 1.3 issuer. */
  readonly url: string;
  readonly clientId: string;
  readonly deploymentId: string;
}

/** An environment's settings with every default and file path resolved (no courses). */
/** One LTI 1.3 platform the hub accepts launches from (lti13's own fields, lti13.platforms[], or the demo launcher). */
export interface ResolvedLti13Platform {
  readonly issuer: string;
  readonly clientIds: readonly string[];
  /** Accepted deployment ids; empty accepts any. */
  readonly deploymentIds: readonly string[];
  readonly authorizeUrl: string;
  readonly jwksUrl: string;
  /** The platform's OAuth2 token endpoint (grade passback); absent: no LTI 1.3 grade passback to it. */
  readonly tokenUrl?: string;
  /** Where it is configured, relative to the environment: `lti13`, `lti13.platforms[0]` or `demoLauncher`. */
  readonly field: string;
}

export interface ResolvedEnvironmentSettings extends Omit<EnvironmentSettings, 'images' | 'tls' | 'demoLauncher'> {
  /** Every LTI 1.3 platform, in config order (empty when lti13 is off). */
  readonly lti13Platforms: readonly ResolvedLti13Platform[];
  /** The demo launcher, when enabled; it is then also the environment's LTI 1.3 platform. */
  readonly demoLauncher?: ResolvedDemoLauncher;
  /** Absolute path of lti13.platformCaBundle, when set. */
  readonly platformCaBundle?: string;
  readonly images: { readonly hubBase: string; readonly proxy: string; readonly caBundle?: string };
  readonly tls: ResolvedTls;
  readonly imageProfile: ImageProfile;
  /** The registry the profile's default images come from (JHLTI_IMAGE_REGISTRY), if not theirs. */
  readonly imageRegistry?: string;
}

export interface ResolvedEnvironment extends ResolvedEnvironmentSettings {
  readonly courses: readonly ResolvedCourse[];
}

/** What resolution needs besides the values: where relative paths start, which image profile. */
export interface RuleContext {
  readonly profile: ImageProfile;
  /** Registry of the official default images (JHLTI_IMAGE_REGISTRY). @default quay.io */
  readonly imageRegistry?: string;
  /** Directory relative file paths are resolved against. */
  readonly baseDir: string;
  /** CA bundle for image builds when the environment sets none (JHLTI_CA_BUNDLE). */
  readonly defaultCaBundle?: string;
  readonly add: AddIssue;
}

export interface ResolvedConfig {
  readonly version: 1;
  readonly imageProfile: ImageProfile;
  readonly environments: readonly ResolvedEnvironment[];
}

const DERIVED_UID_MIN = 2000;
const DERIVED_UID_SPAN = 17000;

/** Preferred grader uid of a course, in [2000, 19000): FNV-1a of the course id. */
export function defaultGraderUid(courseId: string): number {
  let hash = 0x811c9dc5;
  for (const ch of Buffer.from(courseId, 'utf8')) {
    hash ^= ch;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return DERIVED_UID_MIN + (hash % DERIVED_UID_SPAN);
}

/**
 * Grader uids of an environment's courses. Explicit uids must be unique; a course without one
 * gets its hashed uid, or the next free one when that is taken. The uid owns the course files,
 * so it must not change: it depends only on the course id and, on a hash collision, on the
 * courses listed before it (appending courses never moves an existing uid).
 */
export function assignGraderUids(courses: readonly CourseConfig[], conflict: (index: number, message: string, value: number) => void): number[] {
  const owner = new Map<number, string>();
  courses.forEach((course, i) => {
    if (course.graderUid === undefined) return;
    const other = owner.get(course.graderUid);
    if (other !== undefined && other !== course.id) conflict(i, `grader uid ${course.graderUid} is already used by course "${other}"; give each course its own graderUid (1001-19999)`, course.graderUid);
    else owner.set(course.graderUid, course.id);
  });
  return courses.map((course) => {
    if (course.graderUid !== undefined) return course.graderUid;
    let uid = defaultGraderUid(course.id);
    while (owner.has(uid) && owner.get(uid) !== course.id) uid = DERIVED_UID_MIN + ((uid - DERIVED_UID_MIN + 1) % DERIVED_UID_SPAN);
    owner.set(uid, course.id);
    return uid;
  });
}

/**
 * Resolves one environment's settings (not its courses): files relative to the base
 * directory, images from the profile, and every rule that concerns the environment alone.
 * `at` prefixes the field paths of reported problems (e.g. `environments[0]`).
 */
export function resolveEnvironmentSettings(env: EnvironmentSettings, at: string, ctx: RuleContext): ResolvedEnvironmentSettings {
  const { add, profile } = ctx;
  const field = (key: string) => (at === '' ? key : `${at}.${key}`);
  const file = (p: string) => (isAbsolute(p) ? p : resolve(ctx.baseDir, p));

  const launcher = env.demoLauncher.enabled ? demoLauncher(env, field, add) : undefined;
  if (!env.lti11.enabled && !env.lti13.enabled && launcher === undefined) add(field('lti11.enabled'), 'both LTI 1.1 and LTI 1.3 are off, so nobody can log in; enable at least one', false);
  const lti13Platforms = launcher === undefined ? resolveLti13Platforms(env, field, add) : [];

  const platformCaBundle = env.lti13.platformCaBundle === undefined ? undefined : file(env.lti13.platformCaBundle);
  if (platformCaBundle !== undefined) checkCaBundle(field('lti13.platformCaBundle'), env.lti13.platformCaBundle as string, platformCaBundle, add);

  if (env.embedding.mode === 'iframe' && env.embedding.allowedOrigins.length === 0) {
    add(field('embedding.allowedOrigins'), 'iframe mode needs the LMS origin(s) allowed to frame the hub, e.g. ["https://lms.example.edu"]', []);
  }
  if (env.embedding.mode === 'window' && env.embedding.allowedOrigins.length > 0) {
    add(field('embedding.allowedOrigins'), 'only used with embedding.mode "iframe"; remove it or set mode to "iframe"', env.embedding.allowedOrigins);
  }

  checkEngine(env, field, add);

  const names = new StackNames(env.name);
  for (const name of names.dnsNames([])) {
    if (name.length > DNS_LABEL_MAX) add(field('name'), `derived container name "${name}" is ${name.length} characters; Docker's DNS resolves at most ${DNS_LABEL_MAX}; shorten the environment name`, env.name);
  }

  let tls: ResolvedTls;
  if (env.tls.mode === 'provided') {
    const certFile = file(env.tls.certFile);
    const keyFile = file(env.tls.keyFile);
    checkProvidedTls(field('tls'), env.tls.certFile, certFile, env.tls.keyFile, keyFile, env.hostname, add);
    tls = { mode: 'provided', algorithm: 'ECDSA', ecdsaCurve: 'P256', rsaBits: 3072, validityDays: 0, certFile, keyFile };
  } else {
    tls = { ...env.tls };
  }

  let caBundle = ctx.defaultCaBundle;
  if (env.images.caBundle !== undefined) {
    caBundle = file(env.images.caBundle);
    checkCaBundle(field('images.caBundle'), env.images.caBundle, caBundle, add);
  }

  const { demoLauncher: _launcherInput, ...settings } = env;
  void _launcherInput;
  return {
    ...settings,
    // The launcher is the LTI 1.3 platform and one of the origins that may frame the hub.
    ...(launcher !== undefined
      ? {
          demoLauncher: launcher,
          lti13Platforms: [
            {
              issuer: launcher.url,
              clientIds: [launcher.clientId],
              deploymentIds: [launcher.deploymentId],
              authorizeUrl: `${launcher.url}/authorize`,
              jwksUrl: `http://${new StackNames(env.name).demoLauncher}:${PORTS.demoLauncherJwks}/jwks`,
              field: 'demoLauncher',
            },
          ],
          lti13: {
            ...env.lti13,
            enabled: true,
            issuer: launcher.url,
            clientIds: [launcher.clientId],
            authorizeUrl: `${launcher.url}/authorize`,
            jwksUrl: `http://${new StackNames(env.name).demoLauncher}:${PORTS.demoLauncherJwks}/jwks`,
            deploymentIds: [launcher.deploymentId],
          },
          embedding: { mode: 'iframe' as const, allowedOrigins: [...env.embedding.allowedOrigins, launcher.url] },
        }
      : { lti13Platforms }),
    imageProfile: profile,
    ...(ctx.imageRegistry !== undefined ? { imageRegistry: ctx.imageRegistry } : {}),
    images: {
      hubBase: env.images.hubBase ?? profileImages(profile, ctx.imageRegistry).hubBase,
      proxy: env.images.proxy ?? profileImages(profile, ctx.imageRegistry).proxy,
      ...(caBundle !== undefined ? { caBundle } : {}),
    },
    tls,
    ...(platformCaBundle !== undefined ? { platformCaBundle } : {}),
  };
}

/** engine and swarm agree, and nothing asks what a swarm cannot do. */
function checkEngine(env: EnvironmentSettings, field: (key: string) => string, add: AddIssue): void {
  if (env.engine === 'docker') {
    if (env.swarm !== undefined) add(field('swarm'), 'only used with engine "swarm"; set engine: swarm or remove swarm', 'set');
    return;
  }
  if (env.swarm === undefined) {
    add(field('swarm'), 'engine "swarm" needs the cluster: swarm.registry.address (where every node pulls the images from) and swarm.sharedRoot (the shared filesystem mounted on every node) or swarm.nfs');
    return;
  }
  if ((env.swarm.sharedRoot === undefined) === (env.swarm.nfs === undefined)) {
    add(
      field(env.swarm.sharedRoot === undefined ? 'swarm.sharedRoot' : 'swarm.nfs'),
      env.swarm.sharedRoot === undefined
        ? 'the environment needs shared storage on every node: set swarm.sharedRoot (a filesystem mounted at that path on every node) or swarm.nfs (NFS volumes)'
        : 'set either swarm.sharedRoot or swarm.nfs, not both',
    );
  }
  if (env.swarm.endpointMode === 'dnsrr' && env.swarm.publishMode === 'ingress') {
    add(field('swarm.publishMode'), 'the routing mesh ("ingress") needs virtual IPs; with endpointMode "dnsrr" publish on the manager: publishMode "host"', 'ingress');
  }
  if (env.bindAddress !== '0.0.0.0') {
    add(field('bindAddress'), 'a swarm publishes ports on every address of its nodes; remove bindAddress (firewall the nodes instead)', env.bindAddress);
  }
  if (env.demoLauncher.enabled) {
    // Its page signs launches as anyone: on a single host it listens on 127.0.0.1 only, which a swarm cannot do.
    add(field('demoLauncher.enabled'), 'the demo launcher is for one host (its page listens on 127.0.0.1 only); a swarm publishes on every node; turn it off here and try launches on an engine "docker" environment', true);
  }
}

/**
 * The LTI 1.3 platforms of an environment, checked: the one named by lti13's own fields (when
 * lti13.issuer is set) followed by lti13.platforms; every (issuer, client id) names one platform.
 */
function resolveLti13Platforms(env: EnvironmentSettings, field: (key: string) => string, add: AddIssue): ResolvedLti13Platform[] {
  const lti13 = env.lti13;
  const platforms: ResolvedLti13Platform[] = [];
  if (!lti13.enabled) {
    if (lti13.platforms.length > 0) add(field('lti13.platforms'), 'only used when lti13.enabled is true; enable LTI 1.3 or remove the platforms', lti13.platforms.length);
    if (lti13.dynamicRegistration) add(field('lti13.dynamicRegistration'), 'registers LTI 1.3 platforms, so it needs lti13.enabled: true; enable LTI 1.3 or turn it off', true);
    return platforms;
  }
  if (lti13.issuer !== undefined) {
    for (const key of ['authorizeUrl', 'jwksUrl'] as const) {
      if (lti13[key] === undefined) add(field(`lti13.${key}`), `required when lti13.issuer is set; copy it from the platform's LTI 1.3 registration`);
    }
    if (lti13.clientIds.length === 0) add(field('lti13.clientIds'), 'list at least one client id issued by the platform', []);
    platforms.push({
      issuer: lti13.issuer,
      clientIds: lti13.clientIds,
      deploymentIds: lti13.deploymentIds,
      authorizeUrl: lti13.authorizeUrl ?? '',
      jwksUrl: lti13.jwksUrl ?? '',
      ...(lti13.tokenUrl !== undefined ? { tokenUrl: lti13.tokenUrl } : {}),
      field: 'lti13',
    });
  } else if (lti13.platforms.length === 0) {
    add(field('lti13.issuer'), "required when lti13.enabled is true (or list the platforms in lti13.platforms); copy it from the platform's LTI 1.3 registration");
  } else {
    for (const key of ['clientIds', 'deploymentIds', 'authorizeUrl', 'jwksUrl', 'tokenUrl'] as const) {
      const value = lti13[key];
      if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
        add(field(`lti13.${key}`), 'belongs to the platform named by lti13.issuer, which is not set; set lti13.issuer or move this into an entry of lti13.platforms', value);
      }
    }
  }
  lti13.platforms.forEach((p, i) => platforms.push({ ...p, field: `lti13.platforms[${i}]` }));
  const owner = new Map<string, string>();
  for (const p of platforms) {
    for (const clientId of p.clientIds) {
      const key = JSON.stringify([p.issuer, clientId]);
      const first = owner.get(key);
      if (first !== undefined) {
        add(field(`${p.field}.clientIds`), `issuer ${p.issuer} with client id "${clientId}" is configured in ${field(first)} already; one (issuer, client id) names one platform registration, so list it once`, clientId);
      } else owner.set(key, p.field);
    }
  }
  return platforms;
}

/** The demo launcher's settings, checked: it replaces any LTI 1.3 platform, needs its own port. */
function demoLauncher(env: EnvironmentSettings, field: (key: string) => string, add: AddIssue): ResolvedDemoLauncher {
  const port = env.demoLauncher.port ?? (env.port < 65535 ? env.port + 1 : env.port - 1);
  if (port === env.port) add(field('demoLauncher.port'), `the hub is published on port ${env.port} already; give the launcher another port`, port);
  if (env.lti13.enabled) {
    add(field('demoLauncher.enabled'), 'the demo launcher is the LTI 1.3 platform of its environment; turn lti13 off here (LTI 1.1 may stay) or the launcher off', true);
  }
  // On loopback the page is https://127.0.0.1:<port>: another site than the hub on "localhost",
  // as an LMS is, so "in this page" shows what an LMS iframe really does.
  const host = env.demoLauncher.bindAddress === '127.0.0.1' && env.hostname === 'localhost' ? '127.0.0.1' : env.hostname;
  return { port, bindAddress: env.demoLauncher.bindAddress, url: `https://${host}:${port}`, clientId: 'demo-launcher', deploymentId: 'demo-launcher' };
}

/**
 * The rules between an environment's courses, applied as courses are added one by one: unique
 * ids, one course per LMS context, unique grader uids, names that fit Docker's DNS, no clash
 * with the stack's own services.
 */
export class CourseRules {
  private readonly ids = new Map<string, string>();
  private readonly contexts = new Map<string, string>();
  private readonly uids = new Map<number, string>();
  private readonly serverNames = new Map<string, string>();
  private readonly names: StackNames;

  /** `at(index)` is the field path of the course at that position, for problem reports. */
  constructor(
    private readonly env: ResolvedEnvironmentSettings,
    private readonly at: (index: number) => string,
    private readonly add: AddIssue,
  ) {
    this.names = new StackNames(env.name);
  }

  /**
   * Checks and resolves the next course. `graderUid` is its uid when already assigned for the
   * whole list (config files, see assignGraderUids); otherwise one is derived here.
   */
  resolve(course: CourseConfig, index: number, graderUid?: number): ResolvedCourse {
    const cat = this.at(index);
    const { add } = this;
    const dup = this.ids.get(course.id);
    if (dup !== undefined) add(`${cat}.id`, `course id already used by ${dup} of this environment; ids must be unique`, course.id);
    else this.ids.set(course.id, `courses[${index}]`);
    const builtIn: readonly string[] = Object.values(BUILT_IN_SERVICES);
    if (builtIn.includes(course.id)) {
      add(`${cat}.id`, `"${course.id}" is the name of a service the stack runs itself (${builtIn.join(', ')}); choose another course id`, course.id);
    }
    const grader = this.names.grader(course.id);
    if (grader.length > DNS_LABEL_MAX) {
      add(`${cat}.id`, `derived grader name "${grader}" is ${grader.length} characters; Docker's DNS resolves at most ${DNS_LABEL_MAX}; shorten the course id or the environment name`, course.id);
    }
    const server = courseServerName(course.id);
    const sharing = this.serverNames.get(server);
    if (sharing !== undefined && sharing !== course.id) {
      add(`${cat}.id`, `course ids "${sharing}" and "${course.id}" lead to the same server name "${server}"; rename one of them`, course.id);
    } else this.serverNames.set(server, course.id);
    course.contexts.forEach((ctx, k) => {
      const owner = this.contexts.get(ctx);
      if (owner !== undefined && owner !== course.id) add(`${cat}.contexts[${k}]`, `context already maps to course "${owner}"; a context can launch into one course only`, ctx);
      else this.contexts.set(ctx, course.id);
    });

    let uid = graderUid ?? course.graderUid;
    if (uid === undefined) {
      uid = defaultGraderUid(course.id);
      while (this.uids.has(uid)) uid = DERIVED_UID_MIN + ((uid - DERIVED_UID_MIN + 1) % DERIVED_UID_SPAN);
    } else if (graderUid === undefined && this.uids.has(uid)) {
      add(`${cat}.graderUid`, `grader uid ${uid} is already used by course "${this.uids.get(uid)}"; give each course its own graderUid (1001-19999)`, uid);
    }
    this.uids.set(uid, course.id);

    const noToken = course.gradePassback ? this.env.lti13Platforms.find((p) => p.tokenUrl === undefined) : undefined;
    if (noToken !== undefined) {
      add(`${cat}.gradePassback`, `grade passback over LTI 1.3 needs ${noToken.field}.tokenUrl (the OAuth2 token endpoint of ${noToken.issuer}); set it, or turn gradePassback off`, true);
    }

    if (course.prewarm !== undefined) {
      const idle = course.idleCullSeconds ?? this.env.idleCullSeconds;
      if (course.prewarm.leadMinutes * 60 >= idle) {
        add(`${cat}.prewarm.leadMinutes`, `pre-warmed servers would stop idle (after ${idle} s, the course's idleCullSeconds) before the session starts; set leadMinutes below ${Math.ceil(idle / 60)} or raise idleCullSeconds`, course.prewarm.leadMinutes);
      }
    }

    const profile = this.env.imageProfile;
    const flavour = notebookFlavour(course.kernels);
    const bases = profileImages(profile, this.env.imageRegistry).notebook;
    let notebookBase = course.notebookBase ?? bases[flavour];
    if (notebookBase === undefined) {
      const has = (Object.keys(bases) as (keyof typeof bases)[]).filter((f) => bases[f] !== undefined);
      add(`${cat}.kernels`, `the "${profile}" image profile has no ${flavour} notebook base (it has: ${has.join(', ')}); set notebookBase to an image with these kernels`, course.kernels);
      notebookBase = bases.python ?? '';
    }
    return { ...course, notebookBase, graderUid: uid };
  }
}

/** Every rule of a whole config file: each environment, its courses, and between environments. */
export function applyRules(config: Config, profile: ImageProfile, baseDir: string, defaultCaBundle?: string, imageRegistry?: string): { resolved: ResolvedConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const add: AddIssue = (path, message, value) => issues.push({ path, message, value });
  const ctx: RuleContext = { profile, baseDir, defaultCaBundle, add, ...(imageRegistry !== undefined ? { imageRegistry } : {}) };

  const resolvedEnvs: ResolvedEnvironment[] = [];
  const names = new Map<string, number>();
  const statePaths = new Map<string, number>();
  config.environments.forEach((env, i) => {
    const at = `environments[${i}]`;
    const first = names.get(env.name);
    if (first !== undefined) add(`${at}.name`, `environment name already used by environments[${first}]; names must be unique`, env.name);
    else names.set(env.name, i);
    // The name is a construct id, and the constructs library keeps children in a plain object.
    if (env.name in Object.prototype) add(`${at}.name`, `"${env.name}" is reserved by the construct library; choose another environment name`, env.name);

    if (env.state.backend === 'local') {
      const p = env.state.path ?? `../../../state/${env.name}.tfstate`;
      // Relative to the environment's own stack directory (<outdir>/stacks/<env>).
      const file = resolve('/cdktf.out/stacks', env.name, p);
      const other = statePaths.get(file);
      if (other !== undefined) add(`${at}.state.path`, `state file already used by environments[${other}]; two stacks must never share state`, p);
      else statePaths.set(file, i);
    }

    config.environments.slice(0, i).forEach((prev, j) => {
      const overlap = prev.bindAddress === env.bindAddress || prev.bindAddress === '0.0.0.0' || env.bindAddress === '0.0.0.0';
      if (prev.port === env.port && overlap) {
        add(`${at}.port`, `port ${env.port} on ${env.bindAddress} collides with environments[${j}] ("${prev.name}", ${prev.bindAddress}:${prev.port}); give each environment its own port`, env.port);
      }
      // Docker names are jhlti-<env>-<what>: "a" and "a-course" would share jhlti-a-course-*.
      const [shorter, longer] = prev.name.length <= env.name.length ? [prev, env] : [env, prev];
      if (shorter.name !== longer.name && longer.name.startsWith(`${shorter.name}-`)) {
        add(
          `${at}.name`,
          `environment names "${longer.name}" and "${shorter.name}" (environments[${j}]) would share Docker names (jhlti-${shorter.name}-...); no environment name may start with another one followed by "-"`,
          env.name,
        );
      }
    });

    const settings = resolveEnvironmentSettings(env, at, ctx);
    const graderUids = assignGraderUids(env.courses, (c, message, value) => add(`${at}.courses[${c}].graderUid`, message, value));
    const rules = new CourseRules(settings, (c) => `${at}.courses[${c}]`, add);
    const courses = env.courses.map((course, c) => rules.resolve(course, c, graderUids[c]));
    resolvedEnvs.push({ ...settings, courses });
  });
  return { resolved: { version: 1, imageProfile: profile, environments: resolvedEnvs }, issues };
}

/** A CA bundle must be a readable PEM file with at least one certificate. */
export function checkCaBundle(at: string, given: string, path: string, add: AddIssue): void {
  if (!isReadableFile(path)) add(at, `file not found (${path}); point it at a PEM CA bundle such as /etc/ssl/certs/ca-certificates.crt`, given);
  else if (!readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----')) add(at, 'is not a PEM CA bundle (no BEGIN CERTIFICATE)', given);
}

function isReadableFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

function checkProvidedTls(
  at: string,
  certGiven: string,
  certFile: string,
  keyGiven: string,
  keyFile: string,
  hostname: string,
  add: AddIssue,
): void {
  let ok = true;
  if (!isReadableFile(certFile)) {
    add(`${at}.certFile`, `file not found (${certFile}); paths are relative to the config file`, certGiven);
    ok = false;
  }
  if (!isReadableFile(keyFile)) {
    add(`${at}.keyFile`, `file not found (${keyFile}); paths are relative to the config file`, keyGiven);
    ok = false;
  }
  if (!ok) return;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (e) {
    add(`${at}.certFile`, `is not a PEM certificate: ${(e as Error).message}`, certGiven);
    return;
  }
  let key;
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (e) {
    add(`${at}.keyFile`, `is not a readable unencrypted PEM private key: ${(e as Error).message}`, keyGiven);
    return;
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) < 3072) {
    add(`${at}.keyFile`, `RSA key of ${details.modulusLength} bits is too weak; use RSA >= 3072 or ECDSA P-256`, keyGiven);
  } else if (key.asymmetricKeyType === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) {
    add(`${at}.keyFile`, `EC curve ${details.namedCurve} is not accepted; use P-256 or P-384`, keyGiven);
  } else if (!['rsa', 'ec', 'ed25519'].includes(key.asymmetricKeyType ?? '')) {
    add(`${at}.keyFile`, `unsupported key type ${key.asymmetricKeyType}; use RSA >= 3072 or ECDSA P-256`, keyGiven);
  }
  const certPublic = cert.publicKey.export({ type: 'spki', format: 'der' });
  const keyPublic = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!certPublic.equals(keyPublic)) add(`${at}.keyFile`, 'does not match the certificate in certFile; give the key the certificate was issued for', keyGiven);
  const covers = new RegExp(IPV4_PATTERN).test(hostname) ? cert.checkIP(hostname) : cert.checkHost(hostname);
  if (covers === undefined) add(`${at}.certFile`, `certificate does not cover the environment hostname "${hostname}"; issue it with that name in its SANs`, certGiven);
}
