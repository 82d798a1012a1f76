/**
 * The config file is the system's boundary. Properties over generated configs
 * (test/unit/config-arbitraries.ts):
 *
 * (a) every config the schema and rules accept synthesizes, its hub gets a stack.json that passes
 *     the hub contract and carries the free text exactly (titles trimmed), and Terraform never
 *     sees a template sequence that this code did not write itself; Docker names are unique
 *     across the config's stacks and fit one DNS label;
 * (b) every hostile class is refused with a ConfigError naming the field (and the value), and
 *     wrong types anywhere produce a ConfigError and nothing else.
 *
 * Fixed seeds: a failure prints the seed and the shrunk counterexample (fast-check), and the
 * same run reproduces it. The block of bugs generated configs found keeps them fixed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { App } from 'cdktf';
import { addEnvironments, ConfigError, ConfigIssue, resolveConfig, StackFileSchema } from '../../constructs';
import { FIXTURES, HOSTILE, PROVIDED_TLS, RESOLVE_OPTIONS, Raw, ValidCase, mutatedConfig, validConfig } from './config-arbitraries';
import { Json, resources, synthConfig } from './helpers';

const SEED = 20260611;
const VALID_RUNS = 40;
const HOSTILE_RUNS = 60;
const MUTATION_RUNS = 400;

const STACK_FILE = '/srv/jupyterhub/stack.json';
/** cdktf output directory of Apps that are never synthesized (cdktf creates it). */
const SCRATCH_OUTDIR = join(mkdtempSync(join(tmpdir(), 'jhlti-hostile-')), 'cdktf.out');

/** Terraform references the constructs emit: resource attributes only (see the allow-list below). */
const TERRAFORM_REFERENCE = /^\$\{(?:docker_network|docker_volume|docker_image|random_bytes|tls_private_key|tls_self_signed_cert)\.[A-Za-z0-9_-]+\.(?:name|hex|image_id|cert_pem|private_key_pem)\}/;

/**
 * The only `${...}` expressions allowed in a stack: resource references, and file() of the
 * provided certificate and key exactly as StackTls writes them (relative to the stack directory).
 * A `${file("/etc/passwd")}` leaked from a title matches none of them.
 */
function allowedExpressions(environment: string, providedTls: boolean): (text: string) => boolean {
  const stackDir = join(process.cwd(), 'cdktf.out', 'stacks', environment);
  const files = providedTls
    ? [`\${file("${relative(stackDir, join(FIXTURES, PROVIDED_TLS.certFile))}")}`, `\${sensitive(file("${relative(stackDir, join(FIXTURES, PROVIDED_TLS.keyFile))}"))}`]
    : [];
  return (text) => TERRAFORM_REFERENCE.test(text) || files.some((f) => text.startsWith(f));
}

/** Every string (object keys included) of a synthesized stack. */
function* strings(value: Json): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* strings(v);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* strings(v);
    }
  }
}

function hubStackFile(stack: Json, environment: string): string {
  const hub = Object.values(resources(stack, 'docker_container')).find((c) => c.name === `jhlti-${environment}-hub`);
  expect(hub).toBeDefined();
  const upload = (hub.upload as { file: string; content: string }[]).filter((u) => u.file === STACK_FILE);
  expect(upload).toHaveLength(1);
  return upload[0].content;
}

function checkValid(c: ValidCase): void {
  const config = resolveConfig(c.raw, 'gen', RESOLVE_OPTIONS);
  expect(config.environments.map((e) => e.name)).toEqual(c.expect.environments.map((e) => e.name));
  const { stacks, json } = synthConfig(config);

  const names: Record<'container' | 'network' | 'volume' | 'built image', string[]> = { container: [], network: [], volume: [], 'built image': [] };
  for (const [k, e] of c.expect.environments.entries()) {
    const stack = json[e.name];

    // stack.json: Terraform-literal, valid for the hub, the free text exactly as written.
    const content = hubStackFile(stack, e.name);
    expect(content).not.toMatch(/[$%]\{/);
    expect(content).toBe(stacks[k].environment.renderStackFile());
    const doc = StackFileSchema.parse(JSON.parse(content));
    expect(doc.environment).toBe(e.name);
    expect(doc.public_url).toBe(e.publicUrl);
    expect(doc.lti11.enabled).toBe(e.lti11);
    expect(doc.lti13.enabled).toBe(e.lti13.enabled);
    expect(
      doc.lti13.platforms.map((p) => ({ issuer: p.issuer, clientIds: p.client_ids, authorizeUrl: p.authorize_url, jwksUrl: p.jwks_url, deploymentIds: p.deployment_ids })),
    ).toEqual(e.lti13.enabled ? [{ issuer: e.lti13.issuer, clientIds: e.lti13.clientIds, authorizeUrl: e.lti13.authorizeUrl, jwksUrl: e.lti13.jwksUrl, deploymentIds: e.lti13.deploymentIds }] : []);
    expect(doc.frame_ancestors).toEqual(e.frameAncestors);
    expect(doc.courses.map((x) => x.id)).toEqual(e.courses.map((x) => x.id));
    for (const [j, course] of e.courses.entries()) {
      expect(doc.courses[j].title).toBe(course.title);
      expect(doc.courses[j].context_ids).toEqual(course.contexts);
      if (course.graderUid !== undefined) expect(doc.courses[j].grader_uid).toBe(course.graderUid);
    }

    // Trimmed paths and backend values reach Terraform trimmed.
    const hub = Object.values(resources(stack, 'docker_container')).find((x) => x.name === `jhlti-${e.name}-hub`);
    expect(hub.volumes.filter((v: { host_path?: string }) => v.host_path !== undefined).map((v: { host_path: string }) => v.host_path)).toEqual([e.dockerSocket]);
    expect(stack.terraform.backend).toEqual({ [e.backend.type]: e.backend.values });

    // Terraform sees no template sequence but the references this code writes.
    const allowed = allowedExpressions(e.name, e.providedTls);
    for (const s of strings(stack)) {
      if (s.includes('%{')) throw new Error(`"%{" in the synthesized stack ${e.name}: ${JSON.stringify(s.slice(0, 300))}`);
      for (let at = s.indexOf('${'); at !== -1; at = s.indexOf('${', at + 1)) {
        if (!allowed(s.slice(at))) throw new Error(`unexpected Terraform expression in stack ${e.name}: ${JSON.stringify(s.slice(at, at + 120))}`);
      }
    }

    // Docker names: unique across the config, one DNS label each.
    for (const container of Object.values(resources(stack, 'docker_container'))) {
      names.container.push(container.name);
      expect(container.name.length).toBeLessThanOrEqual(63);
      for (const network of container.networks_advanced ?? []) for (const alias of network.aliases ?? []) expect(alias.length).toBeLessThanOrEqual(63);
    }
    for (const network of Object.values(resources(stack, 'docker_network'))) names.network.push(network.name);
    for (const volume of Object.values(resources(stack, 'docker_volume'))) names.volume.push(volume.name);
    for (const image of Object.values(resources(stack, 'docker_image'))) if (image.build !== undefined) names['built image'].push(image.name.replace(/:[^:]*$/, ''));
  }
  for (const [kind, list] of Object.entries(names)) {
    const repeated = list.filter((n, i) => list.indexOf(n) !== i);
    if (repeated.length > 0) throw new Error(`${kind} names used twice in one config: ${repeated.join(', ')}`);
  }
  const all = [...names.container, ...names.network, ...names.volume];
  expect(new Set(all).size).toBe(all.length);
}

/** The issues of the ConfigError a config is refused with; anything else thrown fails the test. */
function refusal(raw: unknown): readonly ConfigIssue[] {
  try {
    resolveConfig(raw, 'hostile', RESOLVE_OPTIONS);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw new Error(`not a ConfigError: ${(e as Error)?.stack ?? String(e)}`);
  }
  throw new Error('the config was accepted');
}

describe('(a) every config the schema accepts synthesizes into safe Terraform and a stack.json the hub reads', () => {
  test(`property over ${VALID_RUNS} generated configs (seed ${SEED})`, () => {
    fc.assert(
      fc.property(validConfig(), (c) => checkValid(c)),
      { seed: SEED, numRuns: VALID_RUNS },
    );
  }, 120_000);
});

describe('(b) hostile configs are refused with a ConfigError naming the field', () => {
  test.each(Object.entries(HOSTILE))('%s', (_name, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (h) => {
        const issues = refusal(h.raw);
        const match = issues.find((i) => i.path === h.path);
        if (match === undefined) throw new Error(`no issue at ${h.path}; got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
        expect(match.message).toMatch(h.message);
        if (h.value !== undefined) expect(match.value).toEqual(h.value);
      }),
      { seed: SEED, numRuns: HOSTILE_RUNS },
    );
  });

  test(`wrong JSON types, huge strings, nested arrays and prototype keys anywhere: ConfigError or a valid stack.json, nothing else (${MUTATION_RUNS} runs)`, () => {
    fc.assert(
      fc.property(mutatedConfig(), ({ raw }) => {
        let config;
        try {
          config = resolveConfig(raw, 'mutated', RESOLVE_OPTIONS);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw new Error(`not a ConfigError: ${(e as Error)?.stack ?? String(e)}`);
          expect(e.issues.length).toBeGreaterThan(0);
          for (const issue of e.issues) {
            expect(typeof issue.path).toBe('string');
            expect(typeof issue.message).toBe('string');
          }
          expect(e.message).toMatch(/^invalid configuration \(mutated\):\n {2}- /);
          return;
        } finally {
          expect(({} as Raw).polluted).toBeUndefined();
        }
        // Still valid after the change: it must render a stack.json the hub contract accepts.
        for (const stack of addEnvironments(new App({ outdir: SCRATCH_OUTDIR }), config)) {
          StackFileSchema.parse(JSON.parse(stack.environment.renderStackFile()));
        }
      }),
      { seed: SEED, numRuns: MUTATION_RUNS },
    );
  }, 120_000);

  test.each([
    ['non-object config', 42],
    ['null config', null],
    ['array config', [{ environments: [] }]],
    ['string config', '{"environments": []}'],
    ['environments as an object', { environments: { name: 'a' } }],
    ['prototype key at the top', JSON.parse('{"__proto__": {"environments": []}}')],
  ])('%s: ConfigError', (_name, raw) => {
    expect(refusal(raw).length).toBeGreaterThan(0);
  });
});

/**
 * Configs the schema accepts (or hostile input) that break a promise of the boundary today.
 * Each test states the correct outcome: refused with a ConfigError naming the field, or
 * synthesized into a stack.json the hub contract accepts. They fail until the bug is fixed.
 */
describe('bugs generated configs found (regression tests)', () => {
  const one = (env: Raw = {}, course: Raw = {}): Raw => ({
    version: 1,
    environments: [{ name: 'bug', courses: [{ id: 'c1', title: 'T', contexts: ['ctx'], ...course }], ...env }],
  });
  const lti13 = (issuer: string): Raw => ({ lti13: { enabled: true, issuer, clientIds: ['c'], authorizeUrl: 'https://lms.example.test/auth', jwksUrl: 'https://lms.example.test/jwks' } });

  /** Refused naming `path`, or synthesized with a stack.json the hub contract accepts; nothing else. */
  function refusedOrSynthesized(raw: unknown, path: string): void {
    let config;
    try {
      config = resolveConfig(raw, 'bug', RESOLVE_OPTIONS);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw new Error(`resolveConfig threw ${(e as Error)?.constructor?.name}, not a ConfigError: ${(e as Error)?.message}`);
      expect(e.issues.map((i) => i.path)).toContain(path);
      return;
    }
    const { json } = synthConfig(config);
    for (const [name, stack] of Object.entries(json)) StackFileSchema.parse(JSON.parse(hubStackFile(stack, name)));
  }

  // url() accepts what new URL() accepts, white space inside included (the URL parser
  // percent-encodes or drops it) and stores the text as written; StackFileSchema's URL pattern
  // forbids \s, so the synth stops with "internal error: stack.json ... breaks the hub contract".
  test.each([
    ['a space', 'https://lms.example.test/a b'],
    ['a newline', 'https://lms.exa\nmple.test/'],
    ['a BOM', 'https://lms.example.test/a\ufeffb'],
  ])('LTI 1.3 URL with %s inside', (_name, issuer) => {
    refusedOrSynthesized(one(lti13(issuer)), 'environments[0].lti13.issuer');
  });

  // limits.memory has no upper bound; memory_bytes in stack.json must be a safe integer.
  test('memory limit of 8192T (2^53 bytes)', () => {
    refusedOrSynthesized(one({ limits: { memory: '8192T' } }), 'environments[0].limits.memory');
  });

  // cdktf resolves every string of the stack: a list-token marker anywhere in a string, or a
  // map-token sentinel as a whole value, throws "Resolution error" at synth.
  test.each([
    ['title with a cdktf list-token marker', one({}, { title: 'Intro #{TfToken[TOKEN.1]}' }), 'environments[0].courses[0].title'],
    ['context id with a cdktf list-token marker', one({}, { contexts: ['#{TfToken[TOKEN.1]}'] }), 'environments[0].courses[0].contexts[0]'],
    ['dockerSocket with a cdktf list-token marker', one({ dockerSocket: '/run/#{TfToken[TOKEN.1]}' }), 'environments[0].dockerSocket'],
    ['state bucket equal to a cdktf map-token sentinel', one({ state: { backend: 's3', bucket: 'String Map Token Value', key: 'k', region: 'r' } }), 'environments[0].state.bucket'],
  ])('%s', (_name, raw, path) => {
    refusedOrSynthesized(raw, path);
  });

  // HOSTNAME_PATTERN accepts all-digit labels ("1.2.3", "999.0.0.1"); checkProvidedTls then
  // takes them for IP addresses and X509Certificate.checkIP throws TypeError "Invalid IP".
  test.each([['1.2.3'], ['999.0.0.1']])('hostname %s with a provided certificate', (hostname) => {
    refusedOrSynthesized(one({ hostname, tls: { mode: 'provided', certFile: PROVIDED_TLS.certFile, keyFile: PROVIDED_TLS.keyFile } }), 'environments[0].hostname');
  });

  // ConfigError formats the offending value with JSON.stringify, which overflows the stack.
  test('a value nested 10000 arrays deep', () => {
    const raw = JSON.parse(`{"version": ${'['.repeat(10000)}${']'.repeat(10000)}, "environments": []}`);
    expect(refusal(raw).map((i) => i.path)).toContain('version');
  });
});
