/**
 * fast-check arbitraries for the config boundary (constructs/config/schema.ts + rules.ts).
 *
 * - `validConfig()`: configs the schema and the rules must ACCEPT, each with what the system
 *   must make of it (`expect`: trimmed hostnames/URLs/titles/paths, opaque LMS ids exactly as
 *   written). Free text mixes arbitrary Unicode with fragments Terraform, cdktf or a JSON/HCL
 *   parser could read as code (`${file("/etc/passwd")}`, `%{ if true }`, `$${`, `%%{`, quotes,
 *   backslashes, newlines, emoji, ...).
 * - `HOSTILE`: one arbitrary per promise of the boundary, each producing a config that must be
 *   REFUSED, with the field path (and the offending value, where there is one) the ConfigError
 *   must name.
 * - `mutatedConfig()`: a valid config with one random place replaced by a wrong JSON type, a
 *   huge string, nested arrays, prototype keys, ... (the only acceptable failure is ConfigError).
 *
 * Used by test/unit/hostile-config.test.ts and test/contract/cases.ts (the hub tier's
 * cross-language cases); not a test file itself.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { BUILT_IN_SERVICES, COURSE_ID_PATTERN, DNS_LABEL_MAX, GRADER_UID_MAX, GRADER_UID_MIN, HOSTNAME_PATTERN, IPV4_PATTERN, ORIGIN_PATTERN } from '../../constructs/contract';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Raw = Record<string, any>;

export const FIXTURES = join(__dirname, '..', 'fixtures');
/** The options every generated config is resolved with (provided TLS files live in FIXTURES/tls). */
export const RESOLVE_OPTIONS = { baseImages: 'official', caBundle: '', baseDir: FIXTURES } as const;
/** Provided TLS files (relative to FIXTURES) and the one hostname their certificate covers. */
export const PROVIDED_TLS = { certFile: 'tls/test-only-chem.crt', keyFile: 'tls/test-only-chem.key', hostname: 'chem.example.test' } as const;

const COURSE_ID = new RegExp(COURSE_ID_PATTERN);
const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,18}[a-z0-9]$/; // EnvironmentSettingsSchema.name
const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
const IPV4 = new RegExp(IPV4_PATTERN);
const ORIGIN = new RegExp(ORIGIN_PATTERN);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Text that Terraform (`${`, `%{` and their `$${`/`%%{` escapes), cdktf (token markers), JSON
 * (quotes, backslashes, escapes), a shell or HTML would treat specially, plus Unicode that
 * normalization or naive length/whitespace handling gets wrong.
 */
export const DANGEROUS_FRAGMENTS: readonly string[] = [
  '${file("/etc/passwd")}',
  '%{ if true }x%{ endif }',
  '%{ if true }',
  '$${',
  '%%{',
  '${',
  '%{',
  '$${file("/etc/passwd")}',
  '${var.context}',
  '${TfToken[TOKEN.1]}',
  '&{TfToken[TOKEN.1]}',
  '#{TfToken[TOKEN.1]}',
  'String Map Token Value',
  'Any Map Token Value',
  '-1.8881545897087626e+289',
  '\\u0024{x}',
  '%24{x}',
  '"',
  '\\',
  '\\"',
  "'",
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '😀',
  '👩‍💻',
  'e\u0301',
  '\u212b',
  '\u2028',
  '\u00a0',
  '\ud800',
  '</script>',
  '{{ x }}',
  '$(id)',
  '`id`',
];

/** What cdktf would take for one of its tokens in a path or backend value (refused there). */
const cdktfToken = (v: string) => /[#&]\{/.test(v) || v === 'String Map Token Value' || v === 'Any Map Token Value';

/** White space String.prototype.trim (and so zod's `.trim()`) removes. */
export const WHITE_SPACE: readonly string[] = [' ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u2003', '\u3000', '\ufeff', '\u2028'];
const whiteSpace = fc.array(fc.constantFrom(...WHITE_SPACE), { minLength: 1, maxLength: 2 }).map((a) => a.join(''));
const maybeWhiteSpace = fc.oneof({ arbitrary: fc.constant(''), weight: 3 }, { arbitrary: whiteSpace, weight: 1 });

/** A value as written in the config (`raw`) and as it must be stored (`value`). */
export interface Written<T = string> {
  readonly raw: T;
  readonly value: T;
}

/** `value` with or without white space around it: fields the schema trims. */
function padded(value: fc.Arbitrary<string>): fc.Arbitrary<Written> {
  return fc.tuple(maybeWhiteSpace, value, maybeWhiteSpace).map(([a, v, b]) => ({ raw: `${a}${v}${b}`, value: v }));
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
const ALNUM = [...LOWER, ...'0123456789'.split('')];

// ---------------------------------------------------------------------------------------------
// Names and ids
// ---------------------------------------------------------------------------------------------

/** An environment name the schema accepts (2-20 of a-z, 0-9, "-", letter first). */
export const environmentName: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...LOWER), fc.string({ unit: fc.constantFrom(...ALNUM, '-'), maxLength: 18 }), fc.constantFrom(...ALNUM))
  .map(([a, b, c]) => `${a}${b}${c}`)
  .filter((n) => ENVIRONMENT_NAME.test(n));

/** True when no name equals another one followed by "-" (they would share Docker names). */
export function noSharedPrefix(names: readonly string[]): boolean {
  return names.every((a) => names.every((b) => a === b || !b.startsWith(`${a}-`)));
}

/** The longest course id whose grader name `jhlti-<env>-grader-<id>` fits one DNS label. */
export function maxCourseIdLength(environment: string): number {
  return Math.min(32, DNS_LABEL_MAX - `jhlti-${environment}-grader-`.length);
}

/** A course id from the grammar of COURSE_ID_PATTERN, at most `maxLength` characters, never a built-in service. */
export function courseId(maxLength = 32): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { arbitrary: fc.constantFrom(...ALNUM), weight: 4 },
    { arbitrary: fc.tuple(fc.constantFrom('-', '_'), fc.constantFrom(...ALNUM)).map(([s, c]) => `${s}${c}`), weight: 1 },
  );
  const builtIn: readonly string[] = Object.values(BUILT_IN_SERVICES);
  return fc
    .oneof(
      { arbitrary: fc.tuple(fc.constantFrom(...LOWER), fc.array(piece, { minLength: 1, maxLength: 31 })).map(([a, rest]) => `${a}${rest.join('')}`), weight: 8 },
      // near misses of the built-in service names, and the longest ids
      { arbitrary: fc.constantFrom('idle-culler2', 'idle_culler', 'culler', 'idle', 'a'.repeat(32), 'z9-8_7'), weight: 1 },
    )
    .map((id) => id.slice(0, maxLength).replace(/[-_]+$/, ''))
    .filter((id) => COURSE_ID.test(id) && !builtIn.includes(id));
}

// ---------------------------------------------------------------------------------------------
// Free text and opaque ids
// ---------------------------------------------------------------------------------------------

const freeTextPiece = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 8 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 10 }), weight: 2 },
  { arbitrary: fc.constantFrom(...DANGEROUS_FRAGMENTS), weight: 4 },
);

/** A course title: arbitrary Unicode with dangerous fragments, maybe white space around it. */
export const title: fc.Arbitrary<Written> = fc
  .tuple(maybeWhiteSpace, fc.array(freeTextPiece, { minLength: 1, maxLength: 6 }), maybeWhiteSpace)
  .map(([a, pieces, b]) => {
    const raw = `${a}${pieces.join('')}${b}`;
    return { raw, value: raw.trim() };
  })
  .filter((t) => t.value.length >= 1 && t.value.length <= 200);

/**
 * An opaque LMS id (context, client or deployment id): any non-empty text of at most 255
 * characters without surrounding white space or control characters, dangerous fragments included.
 */
export const opaqueId: fc.Arbitrary<string> = fc
  .array(freeTextPiece, { minLength: 1, maxLength: 5 })
  .map((p) => p.join(''))
  .filter((v) => v.length >= 1 && v.length <= 255 && v.trim() === v && !CONTROL.test(v));

const PLAIN_FRAGMENTS = ['$', '%', '{', '}', '$$', '%%', '$ {', '% {', '# {', '..', '/', '-', '#', '&', "'", ' ', 'é', '😀', '-1.8881545897087626e+289'];

/** Text a path or backend value may hold: no `${`, `%{`, quotes, backslashes or control characters. */
export const plainText: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'grapheme-ascii', maxLength: 6 }), fc.constantFrom(...PLAIN_FRAGMENTS)), { minLength: 1, maxLength: 5 })
  .map((p) => p.join(''))
  .filter((v) => v.length > 0 && v.trim() === v && !/[$%]\{/.test(v) && !/["\\]/.test(v) && !CONTROL.test(v) && !cdktfToken(v.trim()));

// ---------------------------------------------------------------------------------------------
// Hosts, origins, URLs
// ---------------------------------------------------------------------------------------------

/** A lower-case DNS name whose last label is not numeric (an all-digit name is read as an IPv4 address). */
export const domainName: fc.Arbitrary<string> = fc.domain().filter((d) => HOSTNAME.test(d) && !/^[0-9]+$/.test(d.split('.').pop() ?? ''));
const ipV4 = fc.ipV4().filter((ip) => IPV4.test(ip));
export const hostname: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant('localhost'), weight: 1 },
  { arbitrary: domainName, weight: 4 },
  { arbitrary: ipV4, weight: 1 },
);
const tcpPort = fc.integer({ min: 1, max: 65535 });

/** An exact https origin as the schema accepts it (ORIGIN_PATTERN). */
export const origin: fc.Arbitrary<string> = fc
  .tuple(fc.oneof({ arbitrary: domainName, weight: 4 }, { arbitrary: ipV4, weight: 1 }), fc.option(tcpPort, { nil: undefined }))
  .map(([host, port]) => `https://${host}${port === undefined ? '' : `:${port}`}`)
  .filter((o) => ORIGIN.test(o));

/**
 * Path characters of generated URLs: printable ASCII without white space (all the schema
 * accepts: anything else must be percent-encoded) and template fragments without spaces.
 */
const URL_FRAGMENTS = ['${file("/etc/passwd")}', '%{x}', '$${', '%%{', '"', '\\', "'", '<>', '`', '|', '%41', '?q=1&r=${x}', '#frag', '/a/b', '%C3%A9', '#{TfToken[TOKEN.1]}'];
const urlChar = fc.constantFrom(...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)));
const urlPath = fc
  .array(fc.oneof(fc.constantFrom(...URL_FRAGMENTS), fc.string({ unit: urlChar, maxLength: 8 })), { maxLength: 5 })
  .map((p) => `/${p.join('')}`);

/** What the schema's url() accepts: https, or http for localhost / 127.0.0.1. */
export function acceptedUrl(v: string): boolean {
  if (!/^[!-~]+$/.test(v.trim())) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || (u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1'));
  } catch {
    return false;
  }
}

export const url: fc.Arbitrary<string> = fc
  .oneof(
    {
      arbitrary: fc
        .tuple(fc.oneof({ arbitrary: domainName, weight: 3 }, { arbitrary: domainName.map((d) => d.toUpperCase()), weight: 1 }, { arbitrary: ipV4, weight: 1 }), fc.option(tcpPort, { nil: undefined }), urlPath)
        .map(([host, port, path]) => `https://${host}${port === undefined ? '' : `:${port}`}${path}`),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(fc.constantFrom('localhost', '127.0.0.1'), fc.option(tcpPort, { nil: undefined }), urlPath).map(([host, port, path]) => `http://${host}${port === undefined ? '' : `:${port}`}${path}`),
      weight: 1,
    },
  )
  .filter(acceptedUrl);

// ---------------------------------------------------------------------------------------------
// Valid configs
// ---------------------------------------------------------------------------------------------

/** Pinned image references the schema accepts. */
export const PINNED_IMAGES: readonly string[] = [
  'quay.io/jupyter/scipy-notebook:hub-5.5.4',
  'quay.io/jupyter/r-notebook:hub-5.5.4',
  'localhost:5000/team/custom-notebook:2026.1',
  'python:3.12-slim',
  `quay.io/jupyter/base-notebook@sha256:${'a'.repeat(64)}`,
];

export interface CourseExpect {
  readonly id: string;
  /** Trimmed. */
  readonly title: string;
  /** Exactly as written. */
  readonly contexts: readonly string[];
  /** Set only when the config names one. */
  readonly graderUid?: number;
}

export interface Lti13Expect {
  readonly enabled: boolean;
  readonly issuer: string | null;
  readonly clientIds: readonly string[];
  readonly authorizeUrl: string | null;
  readonly jwksUrl: string | null;
  readonly deploymentIds: readonly string[];
}

export interface EnvironmentExpect {
  readonly name: string;
  readonly publicUrl: string;
  readonly lti11: boolean;
  readonly lti13: Lti13Expect;
  readonly frameAncestors: readonly string[];
  readonly providedTls: boolean;
  /** Host path of the Docker socket (trimmed). */
  readonly dockerSocket: string;
  /** `terraform.backend` of the stack, values trimmed. */
  readonly backend: { readonly type: 'local' | 's3' | 'http'; readonly values: Readonly<Record<string, string>> };
  readonly courses: readonly CourseExpect[];
}

/** A config the schema and rules must accept, and what must come out of it. */
export interface ValidCase {
  readonly raw: Raw;
  readonly expect: { readonly environments: readonly EnvironmentExpect[] };
}

interface CourseDraft {
  readonly raw: Raw;
  readonly expect: CourseExpect;
}

function course(maxIdLength: number): fc.Arbitrary<CourseDraft> {
  return fc
    .record({
      id: courseId(maxIdLength),
      title,
      contexts: fc.array(opaqueId, { minLength: 1, maxLength: 3 }),
      kernels: fc.option(fc.constantFrom(['python'], ['python', 'r'], ['julia', 'python'], ['python', 'r', 'julia']), { nil: undefined }),
      notebookBase: fc.option(fc.constantFrom(...PINNED_IMAGES), { nil: undefined, freq: 4 }),
      allowedImages: fc.option(fc.subarray([...PINNED_IMAGES], { maxLength: 2 }), { nil: undefined, freq: 3 }),
      graderUid: fc.option(fc.integer({ min: GRADER_UID_MIN, max: GRADER_UID_MAX }), { nil: undefined, freq: 3 }),
    })
    .map((c) => {
      const raw: Raw = { id: c.id, title: c.title.raw, contexts: c.contexts };
      if (c.kernels !== undefined) raw.kernels = c.kernels;
      if (c.notebookBase !== undefined) raw.notebookBase = c.notebookBase;
      if (c.allowedImages !== undefined) raw.allowedImages = c.allowedImages;
      if (c.graderUid !== undefined) raw.graderUid = c.graderUid;
      return { raw, expect: { id: c.id, title: c.title.value, contexts: c.contexts, graderUid: c.graderUid } };
    });
}

const selfSignedTls = fc.oneof(
  fc.constant(undefined),
  fc.record({ mode: fc.constant('self-signed'), algorithm: fc.constant('ECDSA'), ecdsaCurve: fc.constantFrom('P256', 'P384'), validityDays: fc.integer({ min: 1, max: 825 }) }, { requiredKeys: ['mode'] }),
  fc.record({ mode: fc.constant('self-signed'), algorithm: fc.constant('RSA'), rsaBits: fc.constantFrom(3072, 4096), validityDays: fc.integer({ min: 1, max: 825 }) }, { requiredKeys: ['mode', 'algorithm'] }),
);
const providedTls = fc
  .tuple(padded(fc.constantFrom(PROVIDED_TLS.certFile, join(FIXTURES, PROVIDED_TLS.certFile))), padded(fc.constantFrom(PROVIDED_TLS.keyFile, join(FIXTURES, PROVIDED_TLS.keyFile))))
  .map(([certFile, keyFile]) => ({ mode: 'provided', certFile: certFile.raw, keyFile: keyFile.raw }));

const memory = padded(
  fc.oneof(
    fc.integer({ min: 128, max: 262144 }).map((n) => `${n}M`),
    fc.tuple(fc.integer({ min: 1, max: 1024 }), fc.option(fc.integer({ min: 0, max: 99 }), { nil: undefined })).map(([g, d]) => `${g}${d === undefined ? '' : `.${d}`}G`),
    fc.integer({ min: 131072, max: 10_000_000 }).map((n) => `${n}K`),
    fc.integer({ min: 1, max: 4 }).map((n) => `${n}T`),
  ),
);
const cpus = fc.oneof(fc.constantFrom(0.01, 0.5, 1, 2, 64), fc.double({ min: 0.01, max: 64, noNaN: true, noDefaultInfinity: true }));

type State = { raw?: Raw; backend: EnvironmentExpect['backend'] };
function state(environment: string): fc.Arbitrary<State> {
  const value = padded(plainText);
  const def: State = { backend: { type: 'local', values: { path: `../../../state/${environment}.tfstate` } } };
  return fc.oneof(
    { arbitrary: fc.constant(def), weight: 4 },
    {
      arbitrary: fc.tuple(maybeWhiteSpace, plainText, maybeWhiteSpace).map(([a, p, b]) => {
        const path = `state/${environment}/${p}.tfstate`;
        return { raw: { backend: 'local', path: `${a}${path}${b}` }, backend: { type: 'local' as const, values: { path } } };
      }),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(value, value, value, fc.option(value, { nil: undefined })).map(([bucket, key, region, endpoint]) => {
        const raw: Raw = { backend: 's3', bucket: bucket.raw, key: key.raw, region: region.raw };
        const values: Record<string, string> = { bucket: bucket.value, key: key.value, region: region.value };
        if (endpoint !== undefined) {
          raw.endpoint = endpoint.raw;
          values.endpoint = endpoint.value;
        }
        return { raw, backend: { type: 's3' as const, values } };
      }),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(value, fc.option(value, { nil: undefined }), fc.option(value, { nil: undefined })).map(([address, lock, unlock]) => {
        const raw: Raw = { backend: 'http', address: address.raw };
        const values: Record<string, string> = { address: address.value };
        if (lock !== undefined) [raw.lockAddress, values.lock_address] = [lock.raw, lock.value];
        if (unlock !== undefined) [raw.unlockAddress, values.unlock_address] = [unlock.raw, unlock.value];
        return { raw, backend: { type: 'http' as const, values } };
      }),
      weight: 1,
    },
  );
}

const lti13 = fc.record({
  enabled: fc.boolean(),
  issuer: padded(url),
  clientIds: fc.uniqueArray(opaqueId, { minLength: 1, maxLength: 3 }),
  authorizeUrl: padded(url),
  jwksUrl: padded(url),
  deploymentIds: fc.option(fc.uniqueArray(opaqueId, { maxLength: 2 }), { nil: undefined }),
  platformCaBundle: fc.option(padded(fc.constant(PROVIDED_TLS.certFile)), { nil: undefined, freq: 4 }),
});

const embedding = fc.oneof(
  fc.constant({ raw: undefined as Raw | undefined, frameAncestors: [] as string[] }),
  fc.constant({ raw: { mode: 'window' } as Raw | undefined, frameAncestors: [] as string[] }),
  fc.constant({ raw: { mode: 'window', allowedOrigins: [] } as Raw | undefined, frameAncestors: [] as string[] }),
  fc.uniqueArray(padded(origin), { minLength: 1, maxLength: 3, selector: (o) => o.value }).map((origins) => ({
    raw: { mode: 'iframe', allowedOrigins: origins.map((o) => o.raw) } as Raw | undefined,
    frameAncestors: origins.map((o) => o.value),
  })),
);

function environment(name: string, port: number, omitPort: boolean, maxCourses: number): fc.Arbitrary<{ raw: Raw; expect: EnvironmentExpect }> {
  return fc
    .record({
      hostname: fc.option(padded(hostname), { nil: undefined }),
      bindAddress: fc.option(padded(fc.constantFrom('0.0.0.0', '127.0.0.1', '10.1.2.3')), { nil: undefined }),
      tls: fc.oneof({ arbitrary: selfSignedTls, weight: 4 }, { arbitrary: providedTls, weight: 1 }),
      providedHostname: padded(fc.constant(PROVIDED_TLS.hostname)),
      lti11: fc.option(fc.boolean(), { nil: undefined }),
      lti13: fc.option(lti13, { nil: undefined }),
      embedding,
      images: fc.option(
        fc.record({ hubBase: fc.constantFrom(...PINNED_IMAGES), proxy: fc.constantFrom(...PINNED_IMAGES), caBundle: padded(fc.constant(PROVIDED_TLS.certFile)) }, { requiredKeys: [] }),
        { nil: undefined },
      ),
      limits: fc.option(fc.record({ memory, cpus }, { requiredKeys: [] }), { nil: undefined }),
      idleCullSeconds: fc.option(fc.integer({ min: 300, max: 7 * 24 * 3600 }), { nil: undefined }),
      dockerSocket: fc.option(padded(fc.oneof(fc.constant('/var/run/docker.sock'), plainText.map((p) => `/${p}`))), { nil: undefined }),
      state: state(name),
      courses: fc.uniqueArray(course(maxCourseIdLength(name)), { minLength: 1, maxLength: maxCourses, selector: (c) => c.expect.id }),
    })
    .map((e) => {
      const raw: Raw = { name };
      if (!omitPort) raw.port = port;
      const provided = e.tls !== undefined && e.tls.mode === 'provided';
      const host = provided ? e.providedHostname : e.hostname;
      if (host !== undefined) raw.hostname = host.raw;
      if (e.bindAddress !== undefined) raw.bindAddress = e.bindAddress.raw;
      if (e.tls !== undefined) raw.tls = e.tls;

      // LTI: at least one version on (the rules refuse a hub nobody can log in to).
      const lti13On = e.lti13?.enabled === true;
      const lti11On = e.lti11 === false && !lti13On ? true : (e.lti11 ?? true);
      if (e.lti11 !== undefined || !lti11On) raw.lti11 = { enabled: lti11On };
      let lti13Expect: Lti13Expect = { enabled: false, issuer: null, clientIds: [], authorizeUrl: null, jwksUrl: null, deploymentIds: [] };
      if (e.lti13 !== undefined) {
        const l = e.lti13;
        raw.lti13 = { enabled: l.enabled, issuer: l.issuer.raw, clientIds: l.clientIds, authorizeUrl: l.authorizeUrl.raw, jwksUrl: l.jwksUrl.raw };
        if (l.deploymentIds !== undefined) raw.lti13.deploymentIds = l.deploymentIds;
        if (l.platformCaBundle !== undefined) raw.lti13.platformCaBundle = l.platformCaBundle.raw;
        if (l.enabled) {
          lti13Expect = { enabled: true, issuer: l.issuer.value, clientIds: l.clientIds, authorizeUrl: l.authorizeUrl.value, jwksUrl: l.jwksUrl.value, deploymentIds: l.deploymentIds ?? [] };
        }
      }
      if (e.embedding.raw !== undefined) raw.embedding = e.embedding.raw;
      if (e.images !== undefined) raw.images = { ...e.images, ...(e.images.caBundle !== undefined ? { caBundle: e.images.caBundle.raw } : {}) };
      if (e.limits !== undefined) raw.limits = { ...e.limits, ...(e.limits.memory !== undefined ? { memory: e.limits.memory.raw } : {}) };
      if (e.idleCullSeconds !== undefined) raw.idleCullSeconds = e.idleCullSeconds;
      if (e.dockerSocket !== undefined) raw.dockerSocket = e.dockerSocket.raw;
      if (e.state.raw !== undefined) raw.state = e.state.raw;

      // Contexts unique in the environment (one course per LMS context, none repeated in a
      // course either), explicit grader uids unique: suffix or drop the repeats.
      const seenContexts = new Set<string>();
      const seenUids = new Set<number>();
      const courses = e.courses.map((c) => {
        const contexts = c.expect.contexts.map((ctx) => {
          let unique = ctx;
          for (let k = 2; seenContexts.has(unique) || unique.length > 255; k++) unique = `${ctx.slice(0, 250)}-${k}`;
          seenContexts.add(unique);
          return unique;
        });
        let graderUid = c.expect.graderUid;
        if (graderUid !== undefined && seenUids.has(graderUid)) graderUid = undefined;
        if (graderUid !== undefined) seenUids.add(graderUid);
        const courseRaw: Raw = { ...c.raw, contexts };
        if (graderUid === undefined) delete courseRaw.graderUid;
        else courseRaw.graderUid = graderUid;
        return { raw: courseRaw, expect: { ...c.expect, contexts, graderUid } };
      });
      raw.courses = courses.map((c) => c.raw);

      const hostValue = host?.value ?? 'localhost';
      return {
        raw,
        expect: {
          name,
          publicUrl: `https://${hostValue}${port === 443 ? '' : `:${port}`}`,
          lti11: lti11On,
          lti13: lti13Expect,
          frameAncestors: e.embedding.frameAncestors,
          providedTls: provided,
          dockerSocket: e.dockerSocket?.value ?? '/var/run/docker.sock',
          backend: e.state.backend,
          courses: courses.map((c) => c.expect),
        },
      };
    });
}

export interface ValidConfigOptions {
  /** @default 3 */
  readonly maxEnvironments?: number;
  /** @default 5 */
  readonly maxCourses?: number;
}

/** A whole config the schema and rules must accept (1-3 environments, 1-5 courses each), with its expectations. */
export function validConfig(options: ValidConfigOptions = {}): fc.Arbitrary<ValidCase> {
  const maxEnvironments = options.maxEnvironments ?? 3;
  const maxCourses = options.maxCourses ?? 5;
  return fc
    .uniqueArray(environmentName, { minLength: 1, maxLength: maxEnvironments })
    .filter(noSharedPrefix)
    .chain((names) =>
      fc
        .tuple(
          fc.uniqueArray(fc.oneof({ arbitrary: fc.constant(443), weight: 1 }, { arbitrary: tcpPort, weight: 4 }), { minLength: names.length, maxLength: names.length }),
          fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
          fc.option(title, { nil: undefined }),
          fc.boolean(),
        )
        .chain(([ports, omit, schemaRef, explicitVersion]) =>
          fc.tuple(...names.map((name, i) => environment(name, ports[i], omit[i] && ports[i] === 443, maxCourses))).map((envs) => {
            const raw: Raw = { environments: envs.map((e) => e.raw) };
            if (explicitVersion) raw.version = 1;
            // "$schema" is free text the stack never uses: it must not reach Terraform either.
            if (schemaRef !== undefined) raw.$schema = schemaRef.raw;
            return { raw, expect: { environments: envs.map((e) => e.expect) } };
          }),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile configs: one arbitrary per promise; each config must be refused naming `path`.
// ---------------------------------------------------------------------------------------------

export interface HostileCase {
  readonly raw: Raw;
  /** Field path the ConfigError must name. */
  readonly path: string;
  /** The offending value the issue must carry (when the class has one). */
  readonly value?: unknown;
  /** What the message must say. */
  readonly message: RegExp;
}

/**
 * Deep copy of a JSON config. (Not structuredClone: under jest its objects come from another
 * realm, and fast-check then prints counterexamples as [object Object].)
 */
function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const base = validConfig({ maxEnvironments: 2, maxCourses: 2 }).map((c) => clone(c.raw));

/** A valid config plus an environment index and a course index inside it. */
const located = base.chain((raw) =>
  fc.tuple(fc.constant(raw), fc.nat({ max: raw.environments.length - 1 })).chain(([r, i]) => fc.tuple(fc.constant(r), fc.constant(i), fc.nat({ max: r.environments[i].courses.length - 1 }))),
);

const validLti13 = { enabled: true, issuer: 'https://lms.example.test', clientIds: ['client-1'], authorizeUrl: 'https://lms.example.test/auth', jwksUrl: 'https://lms.example.test/jwks' };

/** Origins that are no exact https origin: wildcards, CSP injection (`;`), paths, http, upper case, ... */
const badOrigin = fc.oneof(
  domainName.map((d) => `https://*.${d}`),
  fc.constant('*'),
  fc.constant('https://*'),
  domainName.map((d) => `https://${d}; script-src *`),
  domainName.map((d) => `https://${d};`),
  domainName.map((d) => `https://${d} https://evil.example`),
  domainName.map((d) => `https://${d},https://evil.example`),
  domainName.map((d) => `https://${d}/`),
  domainName.map((d) => `https://${d}/course/1`),
  domainName.map((d) => `http://${d}`),
  domainName.map((d) => `https://${d.toUpperCase()}`),
  domainName.map((d) => `https://user@${d}`),
  domainName.map((d) => `https://${d}?x=1`),
  domainName.map((d) => `https://${d}#x`),
  domainName.map((d) => `https://${d}:0`),
  domainName.map((d) => `https://${d}:`),
  domainName.map((d) => `https://${d}\n'unsafe-inline'`),
  domainName.map((d) => `https://${d}'`),
  domainName.map((d) => `https://${d}"`),
  fc.constant("'self'"),
  fc.constant('javascript:alert(1)'),
  fc.constant('https://${file("/etc/passwd")}'),
  fc.constant('https://'),
);

const originCase: fc.Arbitrary<HostileCase> = fc.tuple(located, fc.uniqueArray(origin, { maxLength: 2 }), badOrigin, maybeWhiteSpace, fc.nat()).map(([[shared, i], good, bad, ws, pos]) => {
  const raw = clone(shared);
  const k = pos % (good.length + 1);
  const origins = [...good];
  origins.splice(k, 0, `${ws}${bad}`);
  raw.environments[i].embedding = { mode: 'iframe', allowedOrigins: origins };
  return { raw, path: `environments[${i}].embedding.allowedOrigins[${k}]`, value: bad.trim(), message: /exact https origin/ };
});

/** A grader name jhlti-<env>-grader-<course> longer than one DNS label (63). */
const dnsLengthCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, fc.integer({ min: 18, max: 20 }), fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 20, maxLength: 20 }), fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 32, maxLength: 32 }), fc.nat())
  .map(([[shared, i, j], envLength, envTail, idTail, n]) => {
    const raw = clone(shared);
    const name = `z${envTail}`.slice(0, envLength);
    const tooLong = DNS_LABEL_MAX - `jhlti-${name}-grader-`.length + 1; // shortest id that no longer fits
    const id = `q${idTail}`.slice(0, tooLong + (n % (32 - tooLong + 1)));
    raw.environments[i].name = name;
    raw.environments[i].courses[j].id = id;
    return { raw, path: `environments[${i}].courses[${j}].id`, value: id, message: /Docker's DNS resolves at most 63/ };
  })
  .filter((c) => noSharedPrefix(c.raw.environments.map((e: Raw) => e.name)) && new Set(c.raw.environments.map((e: Raw) => e.name)).size === c.raw.environments.length);

/** A course id equal to a service the stack runs itself. */
const builtInServiceCase: fc.Arbitrary<HostileCase> = fc.tuple(located, fc.constantFrom(...Object.values(BUILT_IN_SERVICES))).map(([[shared, i, j], id]) => {
  const raw = clone(shared);
  raw.environments[i].courses[j].id = id;
  return { raw, path: `environments[${i}].courses[${j}].id`, value: id, message: /name of a service the stack runs itself/ };
});

/** Two environments whose Docker names would overlap: one name is another one followed by "-". */
const environmentPrefixCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, fc.string({ unit: fc.constantFrom(...ALNUM, '-'), maxLength: 10 }), fc.constantFrom(...ALNUM), fc.boolean(), tcpPort)
  .map(([[shared, i], middle, last, before, port]) => {
    const raw = clone(shared);
    const shorter: string = raw.environments[i].name;
    const longer = `${shorter}-${middle}${last}`.slice(0, 20).replace(/-+$/, '');
    const twin = clone(raw.environments[i]);
    twin.name = longer;
    twin.port = port;
    delete twin.state;
    const at = before ? i : raw.environments.length;
    raw.environments.splice(at, 0, twin);
    const later = before ? i + 1 : at;
    return { raw, path: `environments[${later}].name`, value: raw.environments[later].name, message: /would share Docker names/ };
  })
  .filter((c) => {
    const names: string[] = c.raw.environments.map((e: Raw) => e.name);
    const ports = c.raw.environments.map((e: Raw) => e.port ?? 443);
    return names.every((n) => ENVIRONMENT_NAME.test(n)) && new Set(names).size === names.length && new Set(ports).size === ports.length;
  });

/** A memory limit below 128M (Docker refuses below 6M; a Jupyter server does not start below 128M). */
const memoryCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, fc.oneof(fc.integer({ min: 1, max: 127 }).map((n) => `${n}M`), fc.integer({ min: 1, max: 131071 }).map((n) => `${n}K`), fc.constantFrom('127.9M', '1K', '6M')), maybeWhiteSpace)
  .map(([[shared, i], m, ws]) => {
    const raw = clone(shared);
    raw.environments[i].limits = { ...(raw.environments[i].limits ?? {}), memory: `${ws}${m}${ws}` };
    return { raw, path: `environments[${i}].limits.memory`, value: m, message: /at least 128M/ };
  });

/** A CPU limit below Docker's smallest quota (0.01). */
const cpusCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, fc.oneof(fc.constantFrom(0, -0, -1, 0.009, 0.0099999, Number.MIN_VALUE, -Number.MAX_VALUE), fc.double({ min: -1e6, max: 0.0099, noNaN: true, noDefaultInfinity: true })))
  .map(([[shared, i], c]) => {
    const raw = clone(shared);
    raw.environments[i].limits = { ...(raw.environments[i].limits ?? {}), cpus: c };
    return { raw, path: `environments[${i}].limits.cpus`, value: c, message: /at least 0.01/ };
  });

type OpaqueTarget = 'contexts' | 'clientIds' | 'deploymentIds';
function breakOpaqueId(raw: Raw, i: number, j: number, target: OpaqueTarget, bad: string, pos: number): string {
  const env = raw.environments[i];
  if (target === 'contexts') {
    const list: string[] = env.courses[j].contexts;
    const k = pos % (list.length + 1);
    list.splice(k, 0, bad);
    return `environments[${i}].courses[${j}].contexts[${k}]`;
  }
  env.lti13 = { ...validLti13, [target]: target === 'clientIds' ? ['client-1'] : [] };
  const list: string[] = env.lti13[target];
  const k = pos % (list.length + 1);
  list.splice(k, 0, bad);
  return `environments[${i}].lti13.${target}[${k}]`;
}
const opaqueTarget = fc.constantFrom<OpaqueTarget>('contexts', 'clientIds', 'deploymentIds');

/** An opaque LMS id with white space around it: never trimmed (the LMS sends it exactly), so refused. */
const opaqueWhiteSpaceCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, opaqueTarget, opaqueId, whiteSpace, fc.constantFrom('before', 'after', 'both', 'only'), fc.nat())
  .map(([[shared, i, j], target, id, ws, where, pos]) => {
    const raw = clone(shared);
    const bad = where === 'before' ? `${ws}${id}` : where === 'after' ? `${id}${ws}` : where === 'both' ? `${ws}${id}${ws}` : ws;
    const path = breakOpaqueId(raw, i, j, target, bad, pos);
    return { raw, path, value: bad, message: /must not start or end with white space/ };
  });

/** An opaque LMS id with a control character inside. */
const opaqueControlCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, opaqueTarget, opaqueId, opaqueId, fc.integer({ min: 0, max: 0x20 }).map((c) => String.fromCharCode(c === 0x20 ? 0x7f : c)), fc.nat())
  .map(([[shared, i, j], target, a, b, control, pos]) => {
    const raw = clone(shared);
    const bad = `${a}${control}${b}`;
    const path = breakOpaqueId(raw, i, j, target, bad, pos);
    return { raw, path, value: bad, message: /must not contain control characters/ };
  });

/** Every field that reaches Terraform outside stack.json as a path or backend value. */
export const PLAIN_FIELDS = [
  'tls.certFile',
  'tls.keyFile',
  'lti13.platformCaBundle',
  'images.caBundle',
  'dockerSocket',
  'swarm.sharedRoot',
  'swarm.nfs.path',
  'state.path',
  'state.bucket',
  'state.key',
  'state.region',
  'state.endpoint',
  'state.address',
  'state.lockAddress',
  'state.unlockAddress',
] as const;
type PlainField = (typeof PLAIN_FIELDS)[number];

function setPlainField(env: Raw, field: PlainField, value: string): void {
  switch (field) {
    case 'tls.certFile':
    case 'tls.keyFile':
      env.hostname = PROVIDED_TLS.hostname;
      env.tls = { mode: 'provided', certFile: PROVIDED_TLS.certFile, keyFile: PROVIDED_TLS.keyFile, [field.slice(4)]: value };
      break;
    case 'lti13.platformCaBundle':
      env.lti13 = { ...validLti13, platformCaBundle: value };
      break;
    case 'images.caBundle':
      env.images = { caBundle: value };
      break;
    case 'dockerSocket':
      env.dockerSocket = value;
      break;
    case 'swarm.sharedRoot':
      env.engine = 'swarm';
      env.swarm = { registry: { address: 'registry.example.test' }, sharedRoot: value };
      break;
    case 'swarm.nfs.path':
      env.engine = 'swarm';
      env.swarm = { registry: { address: 'registry.example.test' }, nfs: { address: 'nfs.example.test', path: value } };
      break;
    case 'state.path':
      env.state = { backend: 'local', path: value };
      break;
    case 'state.bucket':
    case 'state.key':
    case 'state.region':
    case 'state.endpoint':
      env.state = { backend: 's3', bucket: 'bucket', key: 'key', region: 'region', [field.slice(6)]: value };
      break;
    case 'state.address':
    case 'state.lockAddress':
    case 'state.unlockAddress':
      env.state = { backend: 'http', address: 'https://state.example.test/x', [field.slice(6)]: value };
      break;
  }
}

const TEMPLATE_OR_ESCAPE = ['${', '%{', '${file("/etc/passwd")}', '%{ if true }x%{ endif }', '$${', '%%{', '"', '\\', '\u0000', '\n', '\t', '\r', '\u001b', '\u007f'];

/** A path or backend value with `${`, `%{`, a quote, a backslash or a control character inside. */
const templateInPathCase: fc.Arbitrary<HostileCase> = fc
  .tuple(located, fc.constantFrom(...PLAIN_FIELDS), plainText, fc.constantFrom(...TEMPLATE_OR_ESCAPE), plainText, maybeWhiteSpace)
  .map(([[shared, i], field, a, bad, b, ws]) => {
    const raw = clone(shared);
    const value = `${field === 'dockerSocket' || field.startsWith('swarm.') ? '/' : ''}${a}${bad}${b}`;
    setPlainField(raw.environments[i], field, `${ws}${value}${ws}`);
    return { raw, path: `environments[${i}].${field}`, value, message: /must not contain "\$\{", "%\{", "#\{", "&\{", quotes, backslashes or control characters/ };
  });

/** A title that is empty once trimmed. */
const emptyTitleCase: fc.Arbitrary<HostileCase> = fc.tuple(located, fc.oneof(fc.constant(''), whiteSpace)).map(([[shared, i, j], t]) => {
  const raw = clone(shared);
  raw.environments[i].courses[j].title = t;
  return { raw, path: `environments[${i}].courses[${j}].title`, value: '', message: /title must not be empty/ };
});

/** One arbitrary per hostile class; every config they produce must be refused with a ConfigError naming `path`. */
export const HOSTILE: Readonly<Record<string, fc.Arbitrary<HostileCase>>> = {
  'origin that is no exact https origin (wildcard, ";", path, http, ...)': originCase,
  'derived Docker DNS name over 63 characters': dnsLengthCase,
  'course id equal to a built-in service': builtInServiceCase,
  'environment name that is another one followed by "-"': environmentPrefixCase,
  'memory limit below 128M': memoryCase,
  'CPU limit below 0.01': cpusCase,
  'opaque LMS id with surrounding white space': opaqueWhiteSpaceCase,
  'opaque LMS id with a control character': opaqueControlCase,
  'path or backend value with ${, %{, quotes, backslashes or control characters': templateInPathCase,
  'title that is only white space': emptyTitleCase,
};

// ---------------------------------------------------------------------------------------------
// Wrong types at random places
// ---------------------------------------------------------------------------------------------

function nestedArray(depth: number): unknown {
  let v: unknown = [];
  for (let d = 0; d < depth; d++) v = [v];
  return v;
}

const HUGE = 'x'.repeat(1_000_000);

/** JSON (and a few non-JSON) values that do not belong where they are put. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(null, undefined, true, false, 0, -0, -1, 1.5, 1e308, -1e308, NaN, Infinity, -Infinity, '', ' ', '\u0000', HUGE, [], {}, [[]], [null], { '': '' }),
  fc.integer({ min: 1, max: 200 }).map(nestedArray),
  fc.constant(JSON.parse('{"__proto__": {"polluted": "yes"}}') as unknown),
  fc.constant({ constructor: { prototype: { polluted: 'yes' } } }),
  fc.constantFrom<unknown>('idle-culler', 'self-signed', 'provided', 'iframe', 'window', 's3', 'http', 'local', 'python', 'toString', '__proto__', 'constructor'),
  fc.constantFrom(...DANGEROUS_FRAGMENTS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 4 }),
);

type Location = readonly (string | number)[];

function locations(value: unknown, at: Location = []): Location[] {
  if (Array.isArray(value)) return [at, ...value.flatMap((v, k) => locations(v, [...at, k]))];
  if (value !== null && typeof value === 'object') return [at, ...Object.entries(value).flatMap(([k, v]) => locations(v, [...at, k]))];
  return [at];
}

/** A valid config with one random place replaced, deleted, or given an unknown key. */
export function mutatedConfig(): fc.Arbitrary<{ raw: unknown; at: string }> {
  return base.chain((raw) => {
    const all = locations(raw);
    return fc.tuple(fc.constantFrom(...all), fc.constantFrom('replace', 'delete', 'unknown-key', 'wrap'), hostileValue, fc.constantFrom('x', '__proto__', 'constructor', 'prototype', 'toString', '$schema', 'Name')).map(([loc, op, value, key]) => {
      const copy = clone(raw);
      const where = loc.map(String).join('.');
      if (loc.length === 0) return { raw: op === 'wrap' ? [copy] : value, at: `(root) ${op}` };
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const parent = loc.slice(0, -1).reduce<any>((o, k) => o[k], copy);
      const last = loc[loc.length - 1];
      if (op === 'replace') parent[last] = value;
      else if (op === 'wrap') parent[last] = [parent[last]];
      else if (op === 'delete') {
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
      } else if (parent[last] !== null && typeof parent[last] === 'object' && !Array.isArray(parent[last])) {
        Object.defineProperty(parent[last], key, { value, enumerable: true, configurable: true, writable: true });
      } else parent[last] = value;
      return { raw: copy, at: `${where} ${op}` };
    });
  });
}
