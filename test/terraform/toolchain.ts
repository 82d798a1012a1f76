/**
 * What the terraform tier needs: the Terraform-compatible binary (TERRAFORM_BINARY_NAME, which
 * test/run also points at OpenTofu), the provider mirror (TF_CLI_CONFIG_FILE) and the engine.
 * `npm run setup:offline` prepares them and test/run sources its env.sh; without them every test
 * fails with the reason.
 */
import { execFileSync } from 'node:child_process';

export const TF = process.env.TERRAFORM_BINARY_NAME ?? '';

export function prerequisites(): string[] {
  const missing: string[] = [];
  if (TF === '') missing.push('TERRAFORM_BINARY_NAME is not set');
  if (!process.env.TF_CLI_CONFIG_FILE) missing.push('TF_CLI_CONFIG_FILE is not set (no provider mirror)');
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 20_000 });
  } catch {
    missing.push('no Docker engine answers `docker info`');
  }
  return missing;
}

/** Runs the binary in a stack directory; a failure carries its output (cut to 8000 characters). */
export function tf(dir: string, args: string[]): string {
  try {
    return execFileSync(TF, args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: 'pipe',
      timeout: 300_000,
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' },
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const cut = (text = '') => (text.length > 8000 ? `${text.slice(0, 8000)}\n[... ${text.length - 8000} more characters]` : text);
    throw new Error(`${TF} ${args.join(' ')} failed in ${dir}:\n${cut(err.stderr)}\n${cut(err.stdout)}\n${err.message}`);
  }
}
