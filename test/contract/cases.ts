/**
 * Cross-language contract cases: generated configs (test/unit/config-arbitraries.ts) rendered
 * into the stack.json the constructs upload to the hub, each with what the hub must read back.
 * The hub tier (test/hub/test_contract_cases.py) runs this script and feeds every file to the
 * hub's parse_stack: every config the schema accepts must yield a stack.json the hub accepts.
 *
 *   npx ts-node --transpile-only test/contract/cases.ts <outdir> [count=150] [seed=20260611]
 *
 * Writes, per case and environment, `<case>-<env>.stack.json` and `<case>-<env>.expect.json`,
 * and `manifest.json` (seed, count, file stems). Cases are `case-NNN` (generated) and `edge-*`
 * (hand-written configs whose stack.json the hub once refused although the constructs had
 * accepted them; the config rules now refuse them before synth, recorded in `<edge>.refused.json`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App } from 'cdktf';
import fc from 'fast-check';
import { addEnvironments, ConfigError, resolveConfig } from '../../constructs';
import { EnvironmentExpect, RESOLVE_OPTIONS, Raw, ValidCase, validConfig } from '../unit/config-arbitraries';

export const DEFAULT_COUNT = 150;
export const DEFAULT_SEED = 20260611;

/** What the hub must read back from one environment's stack.json (snake_case, as the hub names it). */
function expectation(e: EnvironmentExpect): Record<string, unknown> {
  return {
    environment: e.name,
    public_url: e.publicUrl,
    lti11_enabled: e.lti11,
    lti13: {
      enabled: e.lti13.enabled,
      platforms: e.lti13.enabled
        ? [{ issuer: e.lti13.issuer, client_ids: e.lti13.clientIds, authorize_url: e.lti13.authorizeUrl, jwks_url: e.lti13.jwksUrl, deployment_ids: e.lti13.deploymentIds }]
        : [],
    },
    frame_ancestors: e.frameAncestors,
    courses: e.courses.map((c) => ({ id: c.id, title: c.title, context_ids: c.contexts, ...(c.graderUid !== undefined ? { grader_uid: c.graderUid } : {}) })),
  };
}

/** A one-environment edge case written without surrounding white space (so raw = expected). */
function edge(name: string, env: Raw): { name: string; c: ValidCase } {
  const lti13 = env.lti13 ?? { enabled: false };
  const expect: EnvironmentExpect = {
    name: env.name,
    publicUrl: `https://${env.hostname ?? 'localhost'}${(env.port ?? 443) === 443 ? '' : `:${env.port}`}`,
    lti11: env.lti11?.enabled ?? true,
    lti13: lti13.enabled
      ? { enabled: true, issuer: lti13.issuer, clientIds: lti13.clientIds, authorizeUrl: lti13.authorizeUrl, jwksUrl: lti13.jwksUrl, deploymentIds: lti13.deploymentIds ?? [] }
      : { enabled: false, issuer: null, clientIds: [], authorizeUrl: null, jwksUrl: null, deploymentIds: [] },
    frameAncestors: env.embedding?.mode === 'iframe' ? env.embedding.allowedOrigins : [],
    providedTls: false,
    dockerSocket: '/var/run/docker.sock',
    backend: { type: 'local', values: { path: `../../../state/${env.name}.tfstate` } },
    courses: env.courses.map((c: Raw) => ({ id: c.id, title: c.title, contexts: c.contexts })),
  };
  return { name, c: { raw: { version: 1, environments: [env] }, expect: { environments: [expect] } } };
}

const lti13 = (url: string): Raw => ({ enabled: true, issuer: url, clientIds: ['client-1'], authorizeUrl: 'https://lms.example.test/auth', jwksUrl: 'https://lms.example.test/jwks' });

/**
 * Configs the constructs once accepted and the hub then refused (found by these tests): a context
 * id listed twice in one course (the hub's _check_unique refuses it), and URLs with characters
 * Python's `\s` matches but JavaScript's does not (\x1c-\x1f, \x85). Each must now be either
 * refused before synth or accepted by the hub.
 */
export const EDGE_CASES = [
  edge('edge-duplicate-context-in-one-course', { name: 'dupctx', courses: [{ id: 'c1', title: 'T', contexts: ['ctx-1', 'ctx-1'] }] }),
  edge('edge-url-with-x1c', { name: 'urlfs', lti13: lti13('https://lms.example.test/a\u001cb'), courses: [{ id: 'c1', title: 'T', contexts: ['ctx-1'] }] }),
  edge('edge-url-with-x85', { name: 'urlnel', lti13: lti13('https://lms.example.test/a\u0085b'), courses: [{ id: 'c1', title: 'T', contexts: ['ctx-1'] }] }),
];

/** Renders every environment of one case; returns the file stems written. */
function writeCase(outdir: string, name: string, c: ValidCase): string[] {
  let config;
  try {
    config = resolveConfig(c.raw, name, RESOLVE_OPTIONS);
  } catch (e) {
    throw new Error(`${name}: a generated valid config was refused:\n${(e as Error).message}\nconfig: ${JSON.stringify(c.raw)}`);
  }
  const stacks = addEnvironments(new App({ outdir: join(outdir, '.cdktf.out') }), config);
  return c.expect.environments.map((e, k) => {
    const stem = `${name}-${e.name}`;
    if (stacks[k].node.id !== e.name) throw new Error(`${name}: stack ${k} is ${stacks[k].node.id}, expected ${e.name}`);
    writeFileSync(join(outdir, `${stem}.stack.json`), stacks[k].environment.renderStackFile());
    writeFileSync(join(outdir, `${stem}.expect.json`), `${JSON.stringify(expectation(e), null, 2)}\n`);
    return stem;
  });
}

export function writeCases(outdir: string, count = DEFAULT_COUNT, seed = DEFAULT_SEED): { cases: string[]; edges: string[] } {
  mkdirSync(outdir, { recursive: true });
  const generated = fc.sample(validConfig(), { seed, numRuns: count });
  const cases = generated.flatMap((c, i) => writeCase(outdir, `case-${String(i).padStart(3, '0')}`, c));
  const edges = EDGE_CASES.flatMap(({ name, c }) => {
    try {
      resolveConfig(c.raw, name, RESOLVE_OPTIONS);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      writeFileSync(join(outdir, `${name}.refused.json`), `${JSON.stringify(e.issues, null, 2)}\n`);
      return [name];
    }
    return writeCase(outdir, name, c);
  });
  writeFileSync(join(outdir, 'manifest.json'), `${JSON.stringify({ seed, count, cases, edges }, null, 2)}\n`);
  return { cases, edges };
}

if (require.main === module) {
  const [dir, countArg, seedArg] = process.argv.slice(2);
  if (dir === undefined) {
    process.stderr.write('usage: ts-node --transpile-only test/contract/cases.ts <outdir> [count] [seed]\n');
    process.exit(2);
  }
  const count = countArg === undefined ? DEFAULT_COUNT : Number(countArg);
  const seed = seedArg === undefined ? DEFAULT_SEED : Number(seedArg);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
    process.stderr.write(`count and seed must be integers (got ${countArg}, ${seedArg})\n`);
    process.exit(2);
  }
  const started = Date.now();
  const { cases, edges } = writeCases(resolve(dir), count, seed);
  process.stdout.write(`wrote ${cases.length} stack.json files from ${count} generated configs (seed ${seed}) and ${edges.length} edge cases to ${resolve(dir)} in ${Date.now() - started} ms\n`);
}
