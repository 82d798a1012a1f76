import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { decideInstallPath, probe, probeTargets } from '../../bin/install-path';
import { main, parseArgs, readToolchainEnv, UsageError } from '../../bin/jupyterhub-lti-stack';

describe('operator CLI arguments', () => {
  test('commands, environment and options', () => {
    expect(parseArgs(['deploy', 'physics', '--config', 'c.yaml', '--base-images', 'local'], {})).toMatchObject({
      command: 'deploy',
      environment: 'physics',
      config: 'c.yaml',
      baseImages: 'local',
      output: 'cdktf.out',
      skipSetup: false,
    });
    expect(parseArgs(['destroy', 'demo', '--purge'], {})).toMatchObject({ command: 'destroy', purge: true });
    expect(parseArgs(['outputs', 'demo', '--show-secrets', '--json'], {})).toMatchObject({ showSecrets: true, json: true });
    expect(parseArgs(['synth'], { JHLTI_CONFIG: 'x.yaml', JHLTI_SKIP_SETUP: '1' })).toMatchObject({ config: 'x.yaml', skipSetup: true });
    expect(parseArgs(['registration-token', 'demo', '--hours', '2'], {})).toMatchObject({ command: 'registration-token', environment: 'demo', hours: 2 });
    expect(parseArgs(['registrations', 'demo'], {})).toMatchObject({ command: 'registrations', environment: 'demo' });
  });

  test.each([
    [[], /no command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['deploy'], /needs an environment name/],
    [['synth', 'extra'], /unexpected argument "extra"/],
    [['deploy', 'demo', '--purge'], /--purge only goes with destroy/],
    [['deploy', 'demo', '--config'], /--config needs a value/],
    [['deploy', 'demo', '--base-images', 'cloud'], /"official" or "local"/],
    [['deploy', 'demo', '--frobnicate'], /unknown option --frobnicate/],
    [['registration-token'], /needs an environment name/],
    [['registration-token', 'demo', '--hours', '0'], /above 0 and at most 720/],
    [['registration-token', 'demo', '--hours', 'many'], /above 0 and at most 720/],
    [['deploy', 'demo', '--hours', '2'], /--hours only goes with registration-token/],
    [['deploy', 'demo', '--install', 'cloud'], /--install \(or JHLTI_INSTALL\) must be "online", "offline", "auto", got "cloud"/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv as string[], {})).toThrow(UsageError);
    expect(() => parseArgs(argv as string[], {})).toThrow(message);
  });

  test('usage errors exit 2 and --help exits 0', () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['frobnicate'])).toBe(2);
      expect(main(['--help'])).toBe(0);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  test('--install, else JHLTI_INSTALL, else auto', () => {
    expect(parseArgs(['deploy', 'demo'], {}).install).toBe('auto');
    expect(parseArgs(['deploy', 'demo'], { JHLTI_INSTALL: 'offline' }).install).toBe('offline');
    expect(parseArgs(['deploy', 'demo', '--install', 'online'], { JHLTI_INSTALL: 'offline' }).install).toBe('online');
    expect(() => parseArgs(['deploy', 'demo'], { JHLTI_INSTALL: 'yes' })).toThrow(/got "yes"/);
  });

  test("the setup's env.sh is read without a shell", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'jhlti-cli-')), 'env.sh');
    writeFileSync(file, "# comment\nexport TERRAFORM_BINARY_NAME='/usr/local/bin/terraform'\nexport CHECKPOINT_DISABLE=1\nexport JHLTI_SETUP_FAILED_STEPS=''\n");
    expect(readToolchainEnv(file)).toEqual({ TERRAFORM_BINARY_NAME: '/usr/local/bin/terraform', CHECKPOINT_DISABLE: '1', JHLTI_SETUP_FAILED_STEPS: '' });
    expect(readToolchainEnv(join(file, 'missing'))).toEqual({});
  });
});

describe('install path', () => {
  const targets = probeTargets({ JHLTI_IMAGE_REGISTRY: '127.0.0.1:5000/quay', JHLTI_PROVIDER_NETWORK_MIRROR: 'https://127.0.0.1:5443/' });

  test('the probed registries follow the mirrors the environment names', () => {
    expect(targets).toEqual([
      { what: 'provider network mirror', urls: ['https://127.0.0.1:5443/'] },
      { what: 'image registry', urls: ['https://127.0.0.1:5000/v2/', 'http://127.0.0.1:5000/v2/'] },
    ]);
    expect(probeTargets({}).map((t) => t.urls)).toEqual([['https://registry.terraform.io/.well-known/terraform.json'], ['https://quay.io/v2/']]);
    expect(probeTargets({ JHLTI_ENGINE: 'tofu' })[0].urls).toEqual(['https://registry.opentofu.org/.well-known/terraform.json']);
  });

  test('auto is online only with a binary and an answer from every registry; explicit paths are kept', () => {
    const answers = [{ url: 'https://127.0.0.1:5443/', status: 404 }, { url: 'https://127.0.0.1:5000/v2/', error: 'EPROTO' }, { url: 'http://127.0.0.1:5000/v2/', status: 200 }];
    expect(decideInstallPath('auto', '/usr/bin/terraform', targets, answers)).toEqual({
      path: 'online',
      why: '/usr/bin/terraform found; the provider network mirror https://127.0.0.1:5443/ (HTTP 404) and the image registry http://127.0.0.1:5000/v2/ (HTTP 200) answer',
    });
    const silent = decideInstallPath('auto', '/usr/bin/terraform', targets, [answers[0], { url: 'https://127.0.0.1:5000/v2/', error: 'ECONNREFUSED' }, { url: 'http://127.0.0.1:5000/v2/', error: 'ECONNREFUSED' }]);
    expect(silent.path).toBe('offline');
    expect(silent.why).toBe('no answer from the image registry https://127.0.0.1:5000/v2/: ECONNREFUSED, http://127.0.0.1:5000/v2/: ECONNREFUSED');
    expect(decideInstallPath('auto', undefined, targets, answers)).toMatchObject({ path: 'offline', why: expect.stringMatching(/no Terraform or OpenTofu on PATH/) });
    expect(decideInstallPath('online', undefined, [], []).path).toBe('online');
    expect(decideInstallPath('offline', '/usr/bin/terraform', targets, answers).path).toBe('offline');
  });

  test('the probe reads an HTTP answer, a refused connection and a silent port', async () => {
    const server = spawn(process.execPath, ['-e', "require('http').createServer((q, s) => { s.statusCode = 401; s.end(); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })"]);
    const silent = createServer(() => undefined); // accepts, never answers
    try {
      const port = await new Promise<string>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const silentPort = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
      // A port nothing listens on: the one a closed server had.
      const closed = createServer();
      const closedPort = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)));
      await new Promise((resolve) => closed.close(resolve));
      const [ok, refused, quiet] = probe([`http://127.0.0.1:${port}/v2/`, `http://127.0.0.1:${closedPort}/`, `http://127.0.0.1:${silentPort}/`], {}, 1500);
      expect(ok).toEqual({ url: `http://127.0.0.1:${port}/v2/`, status: 401 });
      expect(refused).toEqual({ url: `http://127.0.0.1:${closedPort}/`, error: 'ECONNREFUSED' });
      expect(quiet).toEqual({ url: `http://127.0.0.1:${silentPort}/`, error: 'no answer in 1500 ms' });
    } finally {
      server.kill();
      silent.close();
    }
  });
});
