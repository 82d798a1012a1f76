import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { App } from 'cdktf';
import { addEnvironments } from '../../constructs';
import { FIXTURES, load, REPO, resources, synthConfig } from './helpers';

function synthToDir(fixture: string | undefined): string {
  const outdir = mkdtempSync(join(tmpdir(), 'jhlti-synth-'));
  const app = new App({ outdir });
  addEnvironments(app, load(fixture));
  app.synth();
  return outdir;
}

function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(dir, full), readFileSync(full));
    }
  };
  walk(dir);
  return files;
}

/**
 * The synthesized JSON with content hashes (image tags, build triggers, asset directories)
 * replaced by placeholders: an edit of a file under images/ must not churn the snapshot, while
 * every logical id, name and setting stays compared. That hashes follow the content is tested
 * in stack.test.ts.
 */
function withoutContentHashes(value: unknown): unknown {
  if (typeof value === 'string') {
    return value
      .replace(/\b[0-9a-f]{64}\b/g, '<sha256>')
      .replace(/(assets\/[\w-]+\/)[0-9a-f]{16}\b/g, '$1<hash16>')
      .replace(/(jhlti\/[\w.-]+:)[0-9a-f]{12}\b/g, '$1<hash12>');
  }
  if (Array.isArray(value)) return value.map(withoutContentHashes);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutContentHashes(v)]));
  return value;
}

describe('full synthesized JSON (logical ids included, content hashes as placeholders)', () => {
  test('demo', () => {
    expect(withoutContentHashes(synthConfig(load(undefined)).json)).toMatchSnapshot();
  });
  test('three courses in two environments', () => {
    expect(withoutContentHashes(synthConfig(load('three-courses.yaml')).json)).toMatchSnapshot();
  });
  test('engine swarm', () => {
    expect(withoutContentHashes(synthConfig(load('swarm.yaml')).json)).toMatchSnapshot();
  });
});

describe('deterministic synthesis', () => {
  test.each([['demo', undefined], ['three-courses', 'three-courses.yaml'], ['swarm', 'swarm.yaml']])('%s: two synths are byte-identical, assets included', (_n, fixture) => {
    const a = readTree(synthToDir(fixture));
    const b = readTree(synthToDir(fixture));
    expect([...a.keys()]).toEqual([...b.keys()]);
    expect([...a.keys()].some((k) => k.includes('/assets/'))).toBe(true);
    for (const [file, content] of a) expect({ file, same: content.equals(b.get(file) as Buffer) }).toEqual({ file, same: true });
  });
});

describe('no secrets in cdktf.out', () => {
  const outdir = synthToDir('three-courses.yaml');
  const tree = readTree(outdir);
  const text = [...tree.entries()].filter(([f]) => !f.includes('/assets/')).map(([, c]) => c.toString('utf8')).join('\n');
  const stacks = synthConfig(load('three-courses.yaml')).json;

  test('no private key material, not even of a provided key', () => {
    for (const [file, content] of tree) expect({ file, key: /PRIVATE KEY/.test(content.toString('utf8')) }).toEqual({ file, key: false });
    const providedKey = readFileSync(join(FIXTURES, 'tls', 'test-only-chem.key'), 'utf8').split('\n')[1];
    expect(text).not.toContain(providedKey);
  });

  test('every long hex string is a content hash of an image, never a secret', () => {
    const known = new Set<string>();
    for (const stack of Object.values(stacks)) {
      for (const image of Object.values(resources(stack, 'docker_image'))) {
        if (image.triggers) {
          known.add(image.triggers.context_sha256);
          known.add(image.triggers.identity_sha256);
        }
      }
    }
    const found = text.match(/[0-9a-f]{32,}/g) ?? [];
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((h) => !known.has(h))).toEqual([]);
  });

  test('no base64-looking tokens of secret length (public certificates aside)', () => {
    // Uploads in base64 must decode to certificates only (the platform CA bundle of the fixture).
    const encoded = [...text.matchAll(/"content_base64": "([A-Za-z0-9+/=]+)"/g)].map((m) => m[1]);
    expect(encoded.length).toBeGreaterThan(0);
    for (const e of encoded) expect(Buffer.from(e, 'base64').toString('utf8').replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\s*/g, '')).toBe('');
    const decoded = text.replace(/"content_base64": "([A-Za-z0-9+/=]+)"/g, '');
    const withoutCerts = decoded.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '');
    const candidates = (withoutCerts.match(/[A-Za-z0-9+/]{40,}={0,2}/g) ?? []).filter((s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s));
    expect(candidates).toEqual([]);
  });

  test('secrets come only from random_bytes, which has no value in the configuration', () => {
    for (const stack of Object.values(stacks)) {
      for (const bytes of Object.values(resources(stack, 'random_bytes'))) {
        const { '//': _meta, ...args } = bytes;
        expect(args).toEqual({ length: 32 });
      }
      for (const [name, output] of Object.entries(stack.output as Record<string, { value: string; sensitive: boolean }>)) {
        if (/random_bytes|private_key/.test(output.value)) expect({ name, sensitive: output.sensitive }).toEqual({ name, sensitive: true });
      }
    }
  });
});

describe('main.ts (what cdktf runs)', () => {
  const run = (env: Record<string, string>) => {
    const outdir = join(mkdtempSync(join(tmpdir(), 'jhlti-main-')), 'cdktf.out');
    const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'main.ts'], {
      cwd: REPO,
      env: { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: '1', JHLTI_BASE_IMAGES: '', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { ...result, outdir };
  };

  test('a bad config exits non-zero, lists the problem and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jhlti-bad-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'environments:\n  - name: x\n    courses: []\n');
    const r = run({ JHLTI_CONFIG: file });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`invalid configuration (${file})`);
    expect(r.stderr).toContain('environments[0].name: environment name must be');
    expect(r.stderr).toContain('environments[0].courses: declare at least one course');
    expect(existsSync(r.outdir)).toBe(false);
  });

  test('no config: the embedded demo; JHLTI_CONFIG: that file', () => {
    const demo = run({});
    expect(demo.status).toBe(0);
    expect(readdirSync(join(demo.outdir, 'stacks'))).toEqual(['demo']);
    const three = run({ JHLTI_CONFIG: join(FIXTURES, 'three-courses.yaml') });
    expect(three.status).toBe(0);
    expect(readdirSync(join(three.outdir, 'stacks')).sort()).toEqual(['chem', 'physics']);
  });
});
