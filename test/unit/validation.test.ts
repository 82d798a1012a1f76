import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ConfigIssue, loadConfig, resolveConfig } from '../../constructs';
import { FIXTURES } from './helpers';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A valid config to break one field at a time. */
function valid(): Raw {
  return {
    version: 1,
    environments: [
      {
        name: 'alpha',
        hostname: 'hub.example.test',
        port: 8443,
        courses: [
          { id: 'course_a', title: 'A', contexts: ['ctx-a'] },
          { id: 'course-b', title: 'B', contexts: ['ctx-b'] },
        ],
      },
      { name: 'beta', port: 9443, courses: [{ id: 'course_c', title: 'C', contexts: ['ctx-c'] }] },
    ],
  };
}

const lti13 = {
  enabled: true,
  issuer: 'https://lms.example.test',
  clientIds: ['1'],
  authorizeUrl: 'https://lms.example.test/auth',
  jwksUrl: 'https://lms.example.test/jwks',
};
const tlsFile = (name: string) => join(FIXTURES, 'tls', name);

function issuesOf(raw: unknown, baseImages = 'official', caBundle = '', imageRegistry = ''): readonly ConfigIssue[] {
  try {
    resolveConfig(raw, 'test', { baseDir: FIXTURES, baseImages, caBundle, imageRegistry });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('config was accepted');
}

interface Case {
  readonly name: string;
  readonly mutate: (c: Raw) => void;
  readonly path: string;
  readonly message: RegExp;
  readonly value?: unknown;
  readonly baseImages?: string;
  readonly caBundle?: string;
  readonly imageRegistry?: string;
}

const env0 = (c: Raw) => c.environments[0];
const swarmCluster = (): Raw => ({ registry: { address: 'registry.example.test:5000' }, sharedRoot: '/srv/jhlti-shared' });



const CASES: Case[] = [
  { name: 'misspelt top-level key', mutate: (c) => { c.enviroments = c.environments; }, path: 'enviroments', message: /unknown key/ },
  { name: 'no environments key', mutate: (c) => { delete c.environments; }, path: 'environments', message: /missing; add it/ },
  { name: 'empty environment list', mutate: (c) => { c.environments = []; }, path: 'environments', message: /at least one environment/ },
  { name: 'wrong version', mutate: (c) => { c.version = 2; }, path: 'version', message: /version must be 1/, value: 2 },
  { name: 'environment name with capitals', mutate: (c) => { env0(c).name = 'Alpha_1'; }, path: 'environments[0].name', message: /2-20 characters of a-z/, value: 'Alpha_1' },
  { name: 'duplicate environment names', mutate: (c) => { c.environments[1].name = 'alpha'; }, path: 'environments[1].name', message: /already used by environments\[0\]/, value: 'alpha' },
  { name: 'port collision between environments', mutate: (c) => { c.environments[1].port = 8443; }, path: 'environments[1].port', message: /collides with environments\[0\] \("alpha"/, value: 8443 },
  { name: 'port out of range', mutate: (c) => { env0(c).port = 70000; }, path: 'environments[0].port', message: /between 1 and 65535/, value: 70000 },
  { name: 'port as string', mutate: (c) => { env0(c).port = '8443'; }, path: 'environments[0].port', message: /expected number/, value: '8443' },
  { name: 'hostname with underscore', mutate: (c) => { env0(c).hostname = 'my_hub.example'; }, path: 'environments[0].hostname', message: /DNS name/, value: 'my_hub.example' },
  { name: 'bad bind address', mutate: (c) => { env0(c).bindAddress = 'localhost'; }, path: 'environments[0].bindAddress', message: /IPv4 address/, value: 'localhost' },
  { name: 'course id with a space', mutate: (c) => { env0(c).courses[0].id = 'Intro 101'; }, path: 'environments[0].courses[0].id', message: /course id must be 2-32 characters/, value: 'Intro 101' },
  { name: 'duplicate course ids', mutate: (c) => { env0(c).courses[1].id = 'course_a'; }, path: 'environments[0].courses[1].id', message: /already used by courses\[0\]/, value: 'course_a' },
  { name: 'one context in two courses', mutate: (c) => { env0(c).courses[1].contexts = ['ctx-a']; }, path: 'environments[0].courses[1].contexts[0]', message: /already maps to course "course_a"/, value: 'ctx-a' },
  { name: 'course without contexts', mutate: (c) => { env0(c).courses[0].contexts = []; }, path: 'environments[0].courses[0].contexts', message: /at least one LMS context id/ },
  { name: 'misspelt course key', mutate: (c) => { env0(c).courses[0].titel = 'x'; }, path: 'environments[0].courses[0].titel', message: /unknown key/ },
  { name: 'kernels without python', mutate: (c) => { env0(c).courses[0].kernels = ['r']; }, path: 'environments[0].courses[0].kernels', message: /must include "python"/ },
  { name: 'unknown kernel', mutate: (c) => { env0(c).courses[0].kernels = ['python', 'cobol']; }, path: 'environments[0].courses[0].kernels[1]', message: /"python", "r" or "julia"/, value: 'cobol' },
  { name: 'LTI 1.3 on without issuer', mutate: (c) => { env0(c).lti13 = { ...lti13, issuer: undefined }; }, path: 'environments[0].lti13.issuer', message: /required when lti13.enabled/ },
  { name: 'LTI 1.3 on without JWKS URL', mutate: (c) => { env0(c).lti13 = { ...lti13, jwksUrl: undefined }; }, path: 'environments[0].lti13.jwksUrl', message: /required when lti13.issuer is set/ },
  { name: 'LTI 1.3 platform listed twice', mutate: (c) => { env0(c).lti13 = { ...lti13, platforms: [{ issuer: lti13.issuer, clientIds: lti13.clientIds, authorizeUrl: lti13.authorizeUrl, jwksUrl: lti13.jwksUrl }] }; }, path: 'environments[0].lti13.platforms[0].clientIds', message: /configured in environments\[0\]\.lti13 already/ },
  { name: 'LTI 1.3 platform without client ids', mutate: (c) => { env0(c).lti13 = { ...lti13, platforms: [{ issuer: 'https://canvas.example.test', clientIds: [], authorizeUrl: 'https://canvas.example.test/auth', jwksUrl: 'https://canvas.example.test/jwks' }] }; }, path: 'environments[0].lti13.platforms[0].clientIds', message: /at least one client id/ },
  { name: 'LTI 1.3 platform fields without lti13.issuer', mutate: (c) => { env0(c).lti13 = { ...lti13, issuer: undefined, platforms: [{ issuer: 'https://canvas.example.test', clientIds: ['c'], authorizeUrl: 'https://canvas.example.test/auth', jwksUrl: 'https://canvas.example.test/jwks' }] }; }, path: 'environments[0].lti13.jwksUrl', message: /set lti13.issuer or move this into an entry of lti13.platforms/ },
  {
    name: 'grade passback with a second LTI 1.3 platform without token URL',
    mutate: (c) => {
      env0(c).lti13 = { ...lti13, tokenUrl: 'https://lms.example.test/token', platforms: [{ issuer: 'https://canvas.example.test', clientIds: ['c'], authorizeUrl: 'https://canvas.example.test/auth', jwksUrl: 'https://canvas.example.test/jwks' }] };
      env0(c).courses[0].gradePassback = true;
    },
    path: 'environments[0].courses[0].gradePassback',
    message: /needs lti13.platforms\[0\].tokenUrl \(the OAuth2 token endpoint of https:\/\/canvas.example.test\)/,
  },
  { name: 'dynamic registration while LTI 1.3 is off', mutate: (c) => { env0(c).lti13 = { enabled: false, dynamicRegistration: true }; }, path: 'environments[0].lti13.dynamicRegistration', message: /needs lti13.enabled: true/, value: true },
  { name: 'LTI 1.3 platforms while LTI 1.3 is off', mutate: (c) => { env0(c).lti13 = { enabled: false, platforms: [{ issuer: 'https://canvas.example.test', clientIds: ['c'], authorizeUrl: 'https://canvas.example.test/auth', jwksUrl: 'https://canvas.example.test/jwks' }] }; }, path: 'environments[0].lti13.platforms', message: /only used when lti13.enabled is true/ },
  { name: 'LTI 1.3 authorize URL over plain http', mutate: (c) => { env0(c).lti13 = { ...lti13, authorizeUrl: 'http://lms.example.test/auth' }; }, path: 'environments[0].lti13.authorizeUrl', message: /https:\/\/ URL/, value: 'http://lms.example.test/auth' },
  { name: 'LTI 1.3 without client ids', mutate: (c) => { env0(c).lti13 = { ...lti13, clientIds: [] }; }, path: 'environments[0].lti13.clientIds', message: /at least one client id/ },
  { name: 'no LTI version enabled', mutate: (c) => { env0(c).lti11 = { enabled: false }; }, path: 'environments[0].lti11.enabled', message: /nobody can log in/ },
  { name: 'weak RSA for the self-signed cert', mutate: (c) => { env0(c).tls = { mode: 'self-signed', algorithm: 'RSA', rsaBits: 2048 }; }, path: 'environments[0].tls.rsaBits', message: /too weak; use 3072/, value: 2048 },
  { name: 'unknown TLS mode', mutate: (c) => { env0(c).tls = { mode: 'letsencrypt' }; }, path: 'environments[0].tls.mode', message: /"self-signed" or "provided"/, value: 'letsencrypt' },
  { name: 'unknown key algorithm', mutate: (c) => { env0(c).tls = { mode: 'self-signed', algorithm: 'DSA' }; }, path: 'environments[0].tls.algorithm', message: /"ECDSA" or "RSA"/, value: 'DSA' },
  { name: 'provided cert file missing', mutate: (c) => { env0(c).tls = { mode: 'provided', certFile: 'tls/nope.crt', keyFile: 'tls/test-only-chem.key' }; }, path: 'environments[0].tls.certFile', message: /file not found/, value: 'tls/nope.crt' },
  { name: 'provided weak RSA key', mutate: (c) => { Object.assign(env0(c), { hostname: 'weak.example.test', tls: { mode: 'provided', certFile: tlsFile('test-only-weak-rsa.crt'), keyFile: tlsFile('test-only-weak-rsa.key') } }); }, path: 'environments[0].tls.keyFile', message: /RSA key of 2048 bits is too weak/ },
  { name: 'provided key does not match cert', mutate: (c) => { Object.assign(env0(c), { hostname: 'chem.example.test', tls: { mode: 'provided', certFile: 'tls/test-only-chem.crt', keyFile: 'tls/test-only-other.key' } }); }, path: 'environments[0].tls.keyFile', message: /does not match the certificate/ },
  { name: 'provided cert for another hostname', mutate: (c) => { env0(c).tls = { mode: 'provided', certFile: 'tls/test-only-chem.crt', keyFile: 'tls/test-only-chem.key' }; }, path: 'environments[0].tls.certFile', message: /does not cover the environment hostname "hub.example.test"/ },
  { name: 'allow-list entry that is no image reference', mutate: (c) => { env0(c).courses[0].allowedImages = ['not an image!']; }, path: 'environments[0].courses[0].allowedImages[0]', message: /explicit tag or digest/, value: 'not an image!' },
  { name: 'allow-list entry without a tag', mutate: (c) => { env0(c).courses[0].allowedImages = ['quay.io/jupyter/base-notebook']; }, path: 'environments[0].courses[0].allowedImages[0]', message: /explicit tag or digest/ },
  { name: 'allow-list entry on latest', mutate: (c) => { env0(c).courses[0].allowedImages = ['python:latest']; }, path: 'environments[0].courses[0].allowedImages[0]', message: /must be pinned/, value: 'python:latest' },
  { name: 'iframe mode without origins', mutate: (c) => { env0(c).embedding = { mode: 'iframe' }; }, path: 'environments[0].embedding.allowedOrigins', message: /needs the LMS origin/ },
  { name: 'iframe origin with a path', mutate: (c) => { env0(c).embedding = { mode: 'iframe', allowedOrigins: ['https://lms.example.test/course'] }; }, path: 'environments[0].embedding.allowedOrigins[0]', message: /exact https origin/, value: 'https://lms.example.test/course' },
  { name: 'demo launcher next to an LMS on LTI 1.3', mutate: (c) => { env0(c).demoLauncher = { enabled: true }; env0(c).lti13 = { enabled: true, issuer: 'https://lms.example.test', clientIds: ['x'], authorizeUrl: 'https://lms.example.test/auth', jwksUrl: 'https://lms.example.test/jwks' }; }, path: 'environments[0].demoLauncher.enabled', message: /is the LTI 1.3 platform of its environment/, value: true },
  { name: 'demo launcher on the hub port', mutate: (c) => { env0(c).demoLauncher = { enabled: true, port: env0(c).port ?? 443 }; }, path: 'environments[0].demoLauncher.port', message: /give the launcher another port/ },
  { name: 'demo launcher on a host name', mutate: (c) => { env0(c).demoLauncher = { enabled: true, bindAddress: 'localhost' }; }, path: 'environments[0].demoLauncher.bindAddress', message: /IPv4 address/, value: 'localhost' },
  { name: 'memory limit in the wrong unit', mutate: (c) => { env0(c).limits = { memory: '2GB' }; }, path: 'environments[0].limits.memory', message: /"512M" or "2G"/, value: '2GB' },
  { name: 'pre-warm lead as long as the idle timeout', mutate: (c) => { env0(c).idleCullSeconds = 600; env0(c).courses[0].prewarm = { sessions: ['mon 09:00'], leadMinutes: 10 }; }, path: 'environments[0].courses[0].prewarm.leadMinutes', message: /stop idle .* before the session starts; set leadMinutes below 10/, value: 10 },
  { name: 'pre-warm session without a weekday', mutate: (c) => { env0(c).courses[0].prewarm = { sessions: ['09:00'] }; }, path: 'environments[0].courses[0].prewarm.sessions[0]', message: /weekday and a 24-hour time/, value: '09:00' },
  { name: 'pre-warm session at 24:00', mutate: (c) => { env0(c).courses[0].prewarm = { sessions: ['fri 24:00'] }; }, path: 'environments[0].courses[0].prewarm.sessions[0]', message: /weekday and a 24-hour time/, value: 'fri 24:00' },
  { name: 'pre-warm time zone as an offset', mutate: (c) => { env0(c).courses[0].prewarm = { sessions: ['mon 09:00'], timezone: '+01:00' }; }, path: 'environments[0].courses[0].prewarm.timezone', message: /IANA time zone/, value: '+01:00' },
  { name: 'idle cull too aggressive', mutate: (c) => { env0(c).idleCullSeconds = 10; }, path: 'environments[0].idleCullSeconds', message: /at least 300/, value: 10 },
  { name: 'CA bundle that does not exist', mutate: (c) => { env0(c).images = { caBundle: 'no-such-ca.pem' }; }, path: 'environments[0].images.caBundle', message: /file not found/ },
  { name: 'unpinned hub base image', mutate: (c) => { env0(c).images = { hubBase: 'quay.io/jupyterhub/jupyterhub' }; }, path: 'environments[0].images.hubBase', message: /explicit tag or digest/ },
  { name: 'two environments sharing a state file', mutate: (c) => { env0(c).state = { backend: 'local', path: '../../../state/x.tfstate' }; c.environments[1].state = { backend: 'local', path: '../../../state/x.tfstate' }; }, path: 'environments[1].state.path', message: /never share state/ },
  { name: 'another environment\'s default state file', mutate: (c) => { c.environments[1].state = { backend: 'local', path: '../alpha/../../../state/alpha.tfstate' }; }, path: 'environments[1].state.path', message: /never share state/ },
  { name: 'environment name the construct library reserves', mutate: (c) => { env0(c).name = 'constructor'; }, path: 'environments[0].name', message: /reserved/, value: 'constructor' },
  { name: 'the same context twice in one course', mutate: (c) => { env0(c).courses[0].contexts = ['ctx-a', 'ctx-a']; }, path: 'environments[0].courses[0].contexts[1]', message: /listed twice/, value: 'ctx-a' },
  { name: 'wildcard embedding origin', mutate: (c) => { env0(c).embedding = { mode: 'iframe', allowedOrigins: ['https://*.example.test'] }; }, path: 'environments[0].embedding.allowedOrigins[0]', message: /exact https origin/, value: 'https://*.example.test' },
  { name: 'origin carrying more CSP', mutate: (c) => { env0(c).embedding = { mode: 'iframe', allowedOrigins: ["https://lms.example.test; script-src 'unsafe-inline'"] }; }, path: 'environments[0].embedding.allowedOrigins[0]', message: /exact https origin/ },
  { name: 'memory below what a server starts with', mutate: (c) => { env0(c).limits = { memory: '64M' }; }, path: 'environments[0].limits.memory', message: /at least 128M/, value: '64M' },
  { name: 'CPU share below Docker\'s smallest quota', mutate: (c) => { env0(c).limits = { cpus: 0.001 }; }, path: 'environments[0].limits.cpus', message: /at least 0.01/, value: 0.001 },
  { name: 'course id with a double hyphen (the hub refused it at start)', mutate: (c) => { env0(c).courses[0].id = 'ab--cd'; }, path: 'environments[0].courses[0].id', message: /single "-" or "_"/, value: 'ab--cd' },
  { name: 'course id of a built-in service', mutate: (c) => { env0(c).courses[0].id = 'idle-culler'; }, path: 'environments[0].courses[0].id', message: /service the stack runs itself/, value: 'idle-culler' },
  { name: 'grader name beyond one DNS label', mutate: (c) => { env0(c).name = 'a'.repeat(20); env0(c).courses[0].id = 'b'.repeat(32); }, path: 'environments[0].courses[0].id', message: /at most 63/ },
  { name: 'environment names that would share Docker names', mutate: (c) => { c.environments[1].name = 'alpha-course'; }, path: 'environments[1].name', message: /would share Docker names/, value: 'alpha-course' },
  { name: 'context id with surrounding space', mutate: (c) => { env0(c).courses[0].contexts = [' ctx-a']; }, path: 'environments[0].courses[0].contexts[0]', message: /white space/, value: ' ctx-a' },
  { name: 'Terraform template in a certificate path', mutate: (c) => { env0(c).tls = { mode: 'provided', certFile: 'tls/${file("x")}.crt', keyFile: 'tls/k.key' }; }, path: 'environments[0].tls.certFile', message: /Terraform or cdktf would read them as code/ },
  { name: 'unknown state backend', mutate: (c) => { env0(c).state = { backend: 'consul' }; }, path: 'environments[0].state.backend', message: /"local", "s3" or "http"/, value: 'consul' },
  { name: 'two courses with the same grader uid', mutate: (c) => { env0(c).courses[0].graderUid = 5000; env0(c).courses[1].graderUid = 5000; }, path: 'environments[0].courses[1].graderUid', message: /already used by course "course_a"/, value: 5000 },
  { name: 'grader uid in the student range', mutate: (c) => { env0(c).courses[0].graderUid = 20001; }, path: 'environments[0].courses[0].graderUid', message: /at most 19999/, value: 20001 },
  { name: 'Julia course on the local stand-ins', mutate: (c) => { env0(c).courses[0].kernels = ['python', 'julia']; }, path: 'environments[0].courses[0].kernels', message: /"local" image profile has no julia notebook base \(it has: python, r\); set notebookBase/, baseImages: 'local' },
  { name: 'CA bundle from the environment that is not PEM', mutate: () => undefined, path: 'JHLTI_CA_BUNDLE (environment variable)', message: /not a PEM CA bundle/, caBundle: join(FIXTURES, 'three-courses.yaml') },
  { name: 'platform CA bundle that does not exist', mutate: (c) => { env0(c).lti13 = { ...lti13, platformCaBundle: 'tls/none.pem' }; }, path: 'environments[0].lti13.platformCaBundle', message: /file not found/, value: 'tls/none.pem' },
  { name: 'image registry given as a URL', mutate: () => undefined, path: 'JHLTI_IMAGE_REGISTRY (environment variable)', message: /host\[:port\]\[\/path\] in lower case without a scheme/, value: 'https://mirror.example.edu', imageRegistry: 'https://mirror.example.edu' },
  { name: 'image registry with a trailing slash', mutate: () => undefined, path: 'JHLTI_IMAGE_REGISTRY (environment variable)', message: /without a scheme/, value: 'mirror.example.edu/', imageRegistry: 'mirror.example.edu/' },
  { name: 'engine swarm without its cluster', mutate: (c) => { env0(c).engine = 'swarm'; }, path: 'environments[0].swarm', message: /swarm.registry.address .* and swarm.sharedRoot/ },
  { name: 'swarm settings on engine docker', mutate: (c) => { env0(c).swarm = swarmCluster(); }, path: 'environments[0].swarm', message: /only used with engine "swarm"/ },
  { name: 'unknown engine', mutate: (c) => { env0(c).engine = 'kubernetes'; }, path: 'environments[0].engine', message: /"docker" .* or "swarm"/, value: 'kubernetes' },
  { name: 'swarm registry given as a URL', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), registry: { address: 'https://registry.example.test' } }; }, path: 'environments[0].swarm.registry.address', message: /no scheme/, value: 'https://registry.example.test' },
  { name: 'swarm shared root that is relative', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), sharedRoot: 'srv/shared' }; }, path: 'environments[0].swarm.sharedRoot', message: /absolute path/, value: 'srv/shared' },
  { name: 'swarm shared root with ..', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), sharedRoot: '/srv/../etc' }; }, path: 'environments[0].swarm.sharedRoot', message: /must not contain "\.\."/, value: '/srv/../etc' },
  { name: 'dnsrr endpoints with the routing mesh', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), endpointMode: 'dnsrr' }; }, path: 'environments[0].swarm.publishMode', message: /publishMode "host"/, value: 'ingress' },
  { name: 'a swarm bound to one address', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = swarmCluster(); env0(c).bindAddress = '127.0.0.1'; }, path: 'environments[0].bindAddress', message: /every address of its nodes/, value: '127.0.0.1' },
  { name: 'the demo launcher on a swarm', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = swarmCluster(); env0(c).demoLauncher = { enabled: true }; }, path: 'environments[0].demoLauncher.enabled', message: /for one host/, value: true },
  { name: 'a placement constraint that is not one', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), serverConstraints: ['worker'] }; }, path: 'environments[0].swarm.serverConstraints[0]', message: /placement constraint/, value: 'worker' },
  { name: 'a swarm with both storage forms', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { ...swarmCluster(), nfs: { address: 'nfs.example.test', path: '/export' } }; }, path: 'environments[0].swarm.nfs', message: /either swarm.sharedRoot or swarm.nfs, not both/ },
  { name: 'a swarm without shared storage', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { registry: { address: 'registry.example.test' } }; }, path: 'environments[0].swarm.sharedRoot', message: /shared storage on every node/ },
  { name: 'NFS options that would inject another mount option list', mutate: (c) => { env0(c).engine = 'swarm'; env0(c).swarm = { registry: { address: 'r.example.test' }, nfs: { address: 'nfs.example.test', path: '/export', options: 'nfsvers=4 ,device=/etc' } }; }, path: 'environments[0].swarm.nfs.options', message: /comma-separated NFS mount options/ },
  { name: 'unknown image profile', mutate: () => undefined, path: 'JHLTI_BASE_IMAGES (environment variable)', message: /"official" or "local"/, value: 'offline', baseImages: 'offline' },
];

describe('invalid configs are rejected with the field path, the value and the fix', () => {
  test('there are at least 25 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(25));

  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const raw = valid();
    c.mutate(raw);
    const issues = issuesOf(raw, c.baseImages, c.caBundle, c.imageRegistry);
    const match = issues.find((i) => i.path === c.path);
    if (match === undefined) throw new Error(`no issue at ${c.path}; got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
    expect(match.message).toMatch(c.message);
    if (c.value !== undefined) expect(match.value).toEqual(c.value);
  });

  test('the valid base config is accepted (the cases above each break one thing)', () => {
    expect(resolveConfig(valid(), 'test', { baseDir: FIXTURES, baseImages: 'official' }).environments).toHaveLength(2);
  });

  test('every problem is reported at once, formatted as path: message (got value)', () => {
    const raw = valid();
    env0(raw).name = 'Bad Name';
    env0(raw).courses[0].id = '1x';
    let error: ConfigError | undefined;
    try {
      resolveConfig(raw, 'my.yaml', { baseImages: 'official' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toContain('invalid configuration (my.yaml):');
    expect(error?.message).toContain('environments[0].name: environment name must be 2-20 characters');
    expect(error?.message).toContain('(got "Bad Name")');
    expect(error?.message).toContain('environments[0].courses[0].id: course id must be');
  });
});

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jhlti-config-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const messageOf = (file: string) => {
    try {
      loadConfig(file, { baseImages: 'official' });
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  test('missing file', () => expect(messageOf(join(dir, 'absent.yaml'))).toMatch(/cannot read the config file: no such file; set JHLTI_CONFIG/));
  test('YAML syntax error names line and column', () => expect(messageOf(write('bad.yaml', 'environments:\n  - name: a\n   port: 1\n'))).toMatch(/not valid YAML at line 3, column/));
  test('duplicate YAML keys', () => expect(messageOf(write('dup.yaml', 'version: 1\nversion: 1\n'))).toMatch(/not valid YAML/));
  test('malformed JSON', () => expect(messageOf(write('bad.json', '{"environments": ['))).toMatch(/not valid JSON/));
  test('unknown file type', () => expect(messageOf(write('config.toml', 'x=1'))).toMatch(/unknown config file type ".toml"/));
  test('relative paths resolve against the config file', () => {
    expect(loadConfig(join(FIXTURES, 'three-courses.yaml'), { baseImages: 'official' }).environments[1].tls.keyFile).toBe(tlsFile('test-only-chem.key'));
  });
});

describe('grader uids', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `course${i}`, title: `C${i}`, contexts: [`ctx-${i}`] }));
  const uids = (courses: unknown[]) =>
    resolveConfig({ environments: [{ name: 'uids', courses }] }, 'test', { baseImages: 'official' }).environments[0].courses.map((c) => c.graderUid);

  test('1000 courses get distinct uids in the grader range without any graderUid set', () => {
    const assigned = uids(many(1000));
    expect(new Set(assigned).size).toBe(1000);
    for (const uid of assigned) expect(uid >= 2000 && uid < 19000).toBe(true);
  });

  test('appending courses never moves an existing course to another uid', () => {
    const before = uids(many(600));
    expect(uids(many(1000)).slice(0, 600)).toEqual(before);
  });

  test('derived uids step around explicit ones', () => {
    const courses = many(2) as Record<string, unknown>[];
    const taken = uids(courses)[1];
    courses[0].graderUid = taken;
    const [first, second] = uids(courses);
    expect(first).toBe(taken);
    expect(second).not.toBe(taken);
  });
});
