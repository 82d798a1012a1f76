/**
 * The runtime contract between the constructs and the images, defined once.
 *
 * Every fact that both the TypeScript constructs and the code baked into the images need
 * (paths, ports, file names, the uid base, capabilities, URL paths, name patterns) lives here.
 * `npm run generate` writes it, with the JSON Schema of stack.json, into each image's build
 * context (images/hub/jupyterhub_lti_stack/contract.json, images/notebook/jhlti_contract.*),
 * and a unit test fails when those copies are stale. The hub validates stack.json against that
 * schema at start. images/CONTRACT.md documents it.
 */

/** Version of stack.json and of this contract; the hub refuses any other. */
export const CONTRACT_VERSION = 7;

/** Paths inside the stack's containers. */
export const PATHS = {
  /** stack.json in the hub container (no secrets). */
  hubStackFile: '/srv/jupyterhub/stack.json',
  /** Directory of the hub's secret files, each 0600. */
  hubSecretsDir: '/srv/jupyterhub/secrets',
  /** The hub data volume (sqlite DB). */
  hubDataDir: '/srv/jupyterhub/data',
  /** The hub's sqlite database file, on the hub data volume. */
  hubDatabase: '/srv/jupyterhub/data/jupyterhub.sqlite',
  /** Used launch nonces and per-(user, course) launch records (grade passback), on the hub data volume. */
  hubLaunchDb: '/srv/jupyterhub/data/jhlti-launches.sqlite',
  /** The last pre-warm of each course, written by the schedule and the instructors' trigger. */
  hubPrewarmOutcomes: '/srv/jupyterhub/data/jhlti-prewarm.json',
  /** CA bundle the hub trusts for outgoing HTTPS (SSL_CERT_FILE), when configured. */
  hubOutgoingCa: '/srv/jupyterhub/outgoing-ca.pem',
  /** The uid-map volume in the hub (read-write). */
  hubUidMapDir: '/srv/jupyterhub/uids',
  /** The uid-map volume in the graders (read-only). */
  graderUidMapDir: '/srv/nbgrader/uids',
  /** File name of the username -> uid map in the uid-map volume. */
  uidMapFile: 'uids.json',
  /** The Docker socket inside the hub container. */
  dockerSocket: '/var/run/docker.sock',
  /** nbgrader exchange root (the exchange volume) in user servers and graders. */
  exchangeRoot: '/srv/nbgrader/exchange',
  /** Parent of the course directories (course volumes) in the graders. */
  coursesRoot: '/srv/nbgrader/courses',
  /** Parent of the course directories in the hub, read-only (LTI Deep Linking lists their assignments). */
  hubCoursesRoot: '/srv/jupyterhub/courses',
  /** engine "swarm": the cluster's shared filesystem (swarm.sharedRoot) in the hub, which creates the environment's directories there. */
  hubSharedRoot: '/srv/jhlti-shared',
  /** Home directory in user servers and graders. */
  home: '/home/jovyan',
  /** Where a course server mounts the user's home of releases before course servers, if it exists. */
  previousHome: '/home/jovyan/home-before-courses',
  /** The proxy's certificate and key. */
  proxyCertificate: '/etc/chp/tls.crt',
  proxyKey: '/etc/chp/tls.key',
  /** Entry point of user servers and graders in the notebook image. */
  startScript: '/usr/local/bin/jhlti-start',
  /** Jupyter config directory used by graders only (strict collect). */
  graderConfigDir: '/etc/jupyter/jhlti-grader',
  /** Jupyter config directory used by user servers only (no formgrader). */
  userConfigDir: '/etc/jupyter/jhlti-user',
} as const;

/**
 * engine "swarm": the environment's directory on the shared filesystem (<sharedRoot>/jhlti-<name>)
 * holds these, in place of the single-host Docker volumes; the hub creates them (root-owned, as a
 * new volume is) and the containers' start hands them to their uids as it does volumes.
 */
export const SHARED_LAYOUT = {
  exchange: 'exchange',
  /** courses/<course id>: a course directory (the grader's course volume on one host). */
  courses: 'courses',
  uidMap: 'uids',
  /** homes/<server name>/<username>: one home per (user, course server). */
  homes: 'homes',
} as const;

/** Ports inside the stack's containers (only the proxy's HTTPS port is published). */
export const PORTS = {
  proxyHttps: 8443,
  proxyApi: 8001,
  hub: 8081,
  notebook: 8888,
  /** The demo launcher's page (HTTPS, published to the host). */
  demoLauncherHttps: 8444,
  /** The demo launcher's keyset for the hub (plain HTTP, launcher network only). */
  demoLauncherJwks: 8080,
} as const;

/** uid of a hub user's server = UID_BASE + the hub's user id; grader uids lie below it. */
export const UID_BASE = 20000;
/** Grader uids: above the image users (jovyan is 1000), below UID_BASE. */
export const GRADER_UID_MIN = 1001;
export const GRADER_UID_MAX = UID_BASE - 1;

/**
 * Capabilities a user server's or grader's container starts with, on top of `cap_drop ALL`:
 * those `jhlti-start` needs to hand the home (and course) directory to NB_UID before it drops
 * every privilege, and KILL for the container's init (tini, root), which passes `docker stop`'s
 * SIGTERM on to the server running under another uid (without it tini dies and the server is
 * killed instead of shutting its kernels and extensions down). The server itself has none.
 */
export const START_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'SETGID', 'SETPCAP', 'SETUID'] as const;

/** File names under PATHS.hubSecretsDir. Each holds one hex string. */
export const SECRET_FILES = {
  cookieSecret: 'cookie_secret',
  cryptKey: 'crypt_key',
  proxyToken: 'proxy_token',
  lti11ConsumerKey: 'lti11_consumer_key',
  lti11SharedSecret: 'lti11_shared_secret',
  idleCullerToken: 'service-token-idle-culler',
} as const;

/** Secret file holding the API token of a course's grader service. */
export function serviceTokenFile(courseId: string): string {
  return `service-token-${courseId}`;
}

/** Secret file holding one of the tool's LTI 1.3 signing keys (RSA private key, PEM). */
export function signingKeyFile(name: string): string {
  return `lti13-signing-key-${name}.pem`;
}

/** Names of the tool's signing keys (they name Terraform resources and secret files). */
export const SIGNING_KEY_NAME_PATTERN = '^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$';
/** RSA size of generated signing keys (LTI 1.3 asks for RS256 with at least 2048 bits). */
export const SIGNING_KEY_RSA_BITS = 2048;

/** JupyterHub services the stack declares besides the course graders (course ids must differ). */
export const BUILT_IN_SERVICES = { idleCuller: 'idle-culler', prewarm: 'jhlti-prewarm' } as const;

/**
 * Defaults of a course's pre-warm settings: the config's (schema) and the hub's, for a course an
 * instructor pre-warms by hand without a `prewarm` entry.
 */
export const PREWARM_DEFAULTS = { leadMinutes: 10, concurrency: 2 } as const;

/** Session times of pre-warm schedules: a weekday and a 24-hour time, e.g. "mon 09:15". */
export const PREWARM_SESSION_PATTERN = '^(mon|tue|wed|thu|fri|sat|sun) ([01][0-9]|2[0-3]):[0-5][0-9]$';

/** URL paths on the public hub URL. */
export const URL_PATHS = {
  hub: '/hub/',
  health: '/hub/health',
  /** Where /hub/login leads: "open JupyterHub from your course". */
  start: '/hub/lti/start',
  lti11Launch: '/hub/lti/launch',
  lti11Config: '/hub/lti11/config',
  lti13Login: '/hub/lti13/oauth_login',
  lti13Callback: '/hub/lti13/oauth_callback',
  lti13Config: '/hub/lti13/config',
  /** The tool's public keyset (its signing keys) for LTI 1.3 platforms. */
  lti13Jwks: '/hub/lti13/jwks',
  /** iframe mode: did the cookie a launch set come back? (hub frame.py) */
  frameCheck: '/hub/jhlti/frame-check',
  /** iframe mode: continue a launch whose cookie the frame lost in a new window. */
  frameContinue: '/hub/jhlti/continue',
  /** JupyterHub's CSP violation report endpoint, kept in every component's policy. */
  cspReport: '/hub/security/csp-report',
  /** LTI Dynamic Registration: the URL an LMS admin pastes (with `?jhlti_registration=<one-time token>`). */
  lti13DynamicRegistration: '/hub/lti13/dynamic-registration',
  /** LTI Deep Linking: the instructor's choice of assignments, answered with a signed response. */
  deepLinking: '/hub/jhlti/deep-linking',
  /** In a user server, relative to its base URL: open (fetching if released) the assignment `?name=`. */
  openAssignment: 'jhlti/assignment',
} as const;

/**
 * A course id: 2-32 characters, lower-case letters and digits, single "-" or "_" between them,
 * starting with a letter. It becomes the nbgrader course id, a JupyterHub service and group name,
 * a URL path segment and part of Docker names.
 */
export const COURSE_ID_PATTERN = '^[a-z](?:[a-z0-9]|[-_](?=[a-z0-9])){1,31}$';
/** An environment name: 2-20 characters, lower-case letters, digits and single "-", starting with a letter. */
export const ENVIRONMENT_NAME_PATTERN = '^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,19}$';
/** A DNS name (lower case), as used for hostnames and LMS origins. */
export const HOSTNAME_PATTERN = '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$';
export const IPV4_PATTERN = '^(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$';
/** An LMS origin allowed to frame the tool: https, an explicit host (no wildcard), optional port, nothing else. */
export const ORIGIN_PATTERN =
  '^https://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d))(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$';

/** JupyterHub 6's server names ("safe slugs"): 1-30 lower-case letters, digits, single hyphens, a letter first. */
export const SERVER_NAME_MAX = 30;
export const SERVER_NAME_PATTERN = '^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$';

/** What an assignment link (deep linking, custom parameter `assignment`) may name: an nbgrader assignment folder. */
export const ASSIGNMENT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.+ -]{0,99}$';

/** Longest name Docker's embedded DNS resolves (one DNS label). */
export const DNS_LABEL_MAX = 63;
/** Smallest memory limit a server can start with (Docker itself refuses below 6 MB). */
export const MIN_MEMORY_BYTES = 128 * 1024 ** 2;
/** Smallest CPU share Docker accepts (cpu_quota of 1 ms per 100 ms period). */
export const MIN_CPUS = 0.01;

/** Labels on every Docker object of the stack, so tooling can find a stack's objects. */
export const LABELS = {
  environment: 'org.jupyterhub-lti-stack.environment',
  role: 'org.jupyterhub-lti-stack.role',
  course: 'org.jupyterhub-lti-stack.course',
  identity: 'org.jupyterhub-lti-stack.identity',
} as const;

/**
 * Build arguments the images' Dockerfiles turn into their labels (environment, course, identity).
 * The provider's classic builder drops labels given through the API, and images built alike
 * would share one id (a parallel destroy then removes it twice and fails).
 */
export const IMAGE_LABEL_ARGS = {
  environment: 'JHLTI_LABEL_ENVIRONMENT',
  course: 'JHLTI_LABEL_COURSE',
  identity: 'JHLTI_LABEL_IDENTITY',
} as const;

/** Environment variables the constructs and the hub's spawner set in user servers and graders. */
export const CONTAINER_ENV = {
  /** The server's course (nbgrader course id). */
  courseId: 'JHLTI_COURSE_ID',
  /** Grader only: "1" when its course sends grades back to the LMS. */
  gradePassback: 'JHLTI_GRADE_PASSBACK',
  /** iframe mode: the LMS origins allowed to frame the server, space-separated; unset: none. */
  frameAncestors: 'JHLTI_FRAME_ANCESTORS',
} as const;

/** The contract as the images read it (snake_case keys, written by `npm run generate`). */
export function contractDocument(stackSchema: unknown): Record<string, unknown> {
  return {
    contract_version: CONTRACT_VERSION,
    paths: snakeKeys(PATHS),
    ports: snakeKeys(PORTS),
    uid_base: UID_BASE,
    grader_uid_min: GRADER_UID_MIN,
    grader_uid_max: GRADER_UID_MAX,
    start_capabilities: [...START_CAPABILITIES],
    secret_files: snakeKeys(SECRET_FILES),
    service_token_file_template: serviceTokenFile('{course}'),
    signing_key_file_template: signingKeyFile('{name}'),
    built_in_services: snakeKeys(BUILT_IN_SERVICES),
    prewarm_defaults: snakeKeys(PREWARM_DEFAULTS),
    url_paths: snakeKeys(URL_PATHS),
    patterns: { course_id: COURSE_ID_PATTERN, origin: ORIGIN_PATTERN, server_name: SERVER_NAME_PATTERN, assignment_name: ASSIGNMENT_NAME_PATTERN },
    min_memory_bytes: MIN_MEMORY_BYTES,
    min_cpus: MIN_CPUS,
    labels: snakeKeys(LABELS),
    container_env: snakeKeys(CONTAINER_ENV),
    shared_layout: snakeKeys(SHARED_LAYOUT),
    stack_schema: stackSchema,
  };
}

function snakeKeys(obj: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}
