/**
 * Terraform tier: every synthesized stack must `init` from the local provider mirror, `validate`
 * and `plan` against the running Docker engine. Needs the offline toolchain (`npm run
 * setup:offline`, sourced by test/run); without it every test here fails with the reason.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdktf';
import { addEnvironments, loadConfig } from '../../constructs';
import { prerequisites, tf } from './toolchain';

const FIXTURES = join(__dirname, '..', 'fixtures');

/** Synthesizes a config file into a fresh directory; returns the stack directories by name. */
function synth(configFile: string | undefined): Record<string, string> {
  const outdir = join(mkdtempSync(join(tmpdir(), 'jhlti-tf-')), 'cdktf.out');
  const app = new App({ outdir });
  addEnvironments(app, loadConfig(configFile, { baseImages: 'official', caBundle: '' }), { outdir });
  app.synth();
  return Object.fromEntries(readdirSync(join(outdir, 'stacks')).map((name) => [name, join(outdir, 'stacks', name)]));
}

function manyCourses(): string {
  const env = (name: string, port: number, offset: number) => ({
    name,
    hostname: `${name}.example.test`,
    port,
    lti13: name === 'spring'
      ? { enabled: true, issuer: 'https://lms.example.test', clientIds: ['c1'], authorizeUrl: 'https://lms.example.test/auth', jwksUrl: 'https://lms.example.test/jwks' }
      : undefined,
    courses: Array.from({ length: 10 }, (_, i) => ({ id: `course${offset + i}`, title: `Course ${offset + i}`, contexts: [`ctx-${offset + i}`] })),
  });
  const file = join(mkdtempSync(join(tmpdir(), 'jhlti-many-')), 'twenty-courses.json');
  writeFileSync(file, JSON.stringify({ version: 1, environments: [env('autumn', 8443, 0), env('spring', 9443, 10)] }));
  return file;
}

interface PlannedChange {
  type: string;
  change: { actions: string[] };
}

function plan(dir: string): PlannedChange[] {
  tf(dir, ['init', '-input=false', '-no-color']);
  const validate = JSON.parse(tf(dir, ['validate', '-json', '-no-color'])) as { valid: boolean; error_count: number };
  expect(validate).toMatchObject({ valid: true, error_count: 0 });
  tf(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-out=tfplan']);
  const shown = JSON.parse(tf(dir, ['show', '-json', 'tfplan'])) as { resource_changes: PlannedChange[] };
  return shown.resource_changes;
}

function countByType(changes: PlannedChange[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of changes) {
    expect(c.change.actions).toEqual(['create']);
    counts[c.type] = (counts[c.type] ?? 0) + 1;
  }
  return counts;
}

describe('terraform init + validate + plan of every stack', () => {
  beforeAll(() => {
    const missing = prerequisites();
    if (missing.length > 0) throw new Error(`terraform tier cannot run: ${missing.join('; ')}. Run \`npm run setup:offline\` and source its env.sh (test/run does).`);
  });

  test('demo: plans the whole environment', () => {
    const stacks = synth(undefined);
    expect(Object.keys(stacks)).toEqual(['demo']);
    expect(countByType(plan(stacks.demo))).toEqual({
      docker_container: 4, // proxy, hub, the course's grader, the demo launcher
      docker_image: 3,
      docker_network: 3, // users, control, the launcher's network with the hub
      docker_volume: 4,
      random_bytes: 7,
      tls_private_key: 3, // the proxy's TLS key, the tool's signing key, the launcher's platform key
      tls_self_signed_cert: 1,
    });
  });

  test('three courses in two environments (one with its own certificate files)', () => {
    const stacks = synth(join(FIXTURES, 'three-courses.yaml'));
    expect(Object.keys(stacks).sort()).toEqual(['chem', 'physics']);
    expect(countByType(plan(stacks.physics)).docker_container).toBe(4);
    const chem = countByType(plan(stacks.chem));
    expect(chem.tls_private_key).toBe(1); // the tool's LTI 1.3 signing key; the TLS key is the operator's file
    expect(chem.tls_self_signed_cert).toBeUndefined();
    expect(chem.docker_container).toBe(3);
  });

  test('twenty courses in two environments', () => {
    const stacks = synth(manyCourses());
    expect(Object.keys(stacks).sort()).toEqual(['autumn', 'spring']);
    for (const dir of Object.values(stacks)) {
      const counts = countByType(plan(dir));
      expect(counts).toMatchObject({ docker_container: 12, docker_image: 12, docker_volume: 13 });
    }
  });

  test('engine swarm: services, Docker secrets and configs, images pushed to the registry', () => {
    const stacks = synth(join(FIXTURES, 'swarm.yaml'));
    // registry auth "docker-config": the provider reads `docker login`'s file (here one made for the test)
    const dockerConfig = mkdtempSync(join(tmpdir(), 'jhlti-docker-config-'));
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { 'registry.example.test:5000': { auth: Buffer.from('operator:not-a-real-password').toString('base64') } } }));
    const before = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dockerConfig;
    let changes: PlannedChange[];
    let nfs: PlannedChange[];
    try {
      changes = plan(stacks.cluster);
      // NFS storage (volumes of the local driver) and a registry without authentication
      nfs = plan(stacks.nfsclass);
    } finally {
      if (before === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = before;
    }
    expect(countByType(changes)).toEqual({
      docker_config: 2, // stack.json, the proxy's certificate
      docker_image: 4, // the hub and two notebook images built, the proxy pulled
      docker_network: 2,
      docker_registry_image: 3,
      docker_secret: 9, // eight hub secret files, the proxy's TLS key
      docker_service: 4, // proxy, hub, two graders
      docker_volume: 1, // the hub database on the manager
      random_bytes: 8,
      tls_private_key: 1,
      tls_self_signed_cert: 1,
    });
    expect(countByType(nfs)).toMatchObject({ docker_service: 3, docker_registry_image: 2, docker_volume: 1 });
  });
});
