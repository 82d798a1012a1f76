import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  test("the setup's env.sh is read without a shell", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'jhlti-cli-')), 'env.sh');
    writeFileSync(file, "# comment\nexport TERRAFORM_BINARY_NAME='/usr/local/bin/terraform'\nexport CHECKPOINT_DISABLE=1\nexport JHLTI_SETUP_FAILED_STEPS=''\n");
    expect(readToolchainEnv(file)).toEqual({ TERRAFORM_BINARY_NAME: '/usr/local/bin/terraform', CHECKPOINT_DISABLE: '1', JHLTI_SETUP_FAILED_STEPS: '' });
    expect(readToolchainEnv(join(file, 'missing'))).toEqual({});
  });
});
