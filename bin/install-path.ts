/**
 * Which install path a command takes. `online`: Terraform or OpenTofu from PATH, the three
 * providers from their registry (or a provider network mirror), the official images pulled
 * (or from a registry mirror); nothing is built with Go and nothing is debootstrapped.
 * `offline`: the providers built from source, the stand-in base images built from Debian
 * (bin/setup). `auto` (the default) is online when a Terraform binary is on PATH and both
 * registries answer, offline otherwise; the CLI says which and why.
 */
import { spawnSync } from 'node:child_process';

export const INSTALL_PATHS = ['online', 'offline', 'auto'] as const;
export type InstallRequest = (typeof INSTALL_PATHS)[number];
export type InstallPath = Exclude<InstallRequest, 'auto'>;

export function isInstallRequest(value: string): value is InstallRequest {
  return (INSTALL_PATHS as readonly string[]).includes(value);
}

export interface ProbeTarget {
  /** What it is, for the message: "provider registry", "image registry". */
  readonly what: string;
  /** Tried in order; the target answers when any of them gives any HTTP response. */
  readonly urls: readonly string[];
}

export interface ProbeResult {
  readonly url: string;
  /** The HTTP status, or undefined when nothing answered. */
  readonly status?: number;
  readonly error?: string;
}

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?$/;

/** The registries the online path needs, as configured by the environment. */
export function probeTargets(env: NodeJS.ProcessEnv): ProbeTarget[] {
  const mirror = env.JHLTI_PROVIDER_NETWORK_MIRROR;
  const registryHost = env.JHLTI_ENGINE === 'tofu' ? 'registry.opentofu.org' : 'registry.terraform.io';
  const providers = mirror ? mirror : `https://${registryHost}/.well-known/terraform.json`;
  const imageHost = (env.JHLTI_IMAGE_REGISTRY || 'quay.io').split('/')[0];
  // Docker talks plain HTTP to a registry on loopback when HTTPS fails; so does the probe.
  const images = [`https://${imageHost}/v2/`, ...(LOOPBACK.test(imageHost) ? [`http://${imageHost}/v2/`] : [])];
  return [
    { what: mirror ? 'provider network mirror' : 'provider registry', urls: [providers] },
    { what: 'image registry', urls: images },
  ];
}

/** One GET per URL, in parallel, each given `timeoutMs`; runs in a child Node (the CLI is synchronous). */
export function probe(urls: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 8000): ProbeResult[] {
  const script = `
const [timeout, ...urls] = process.argv.slice(1);
Promise.all(urls.map(async (url) => {
  try {
    const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(Number(timeout)) });
    return { url, status: r.status };
  } catch (e) {
    const c = e && e.cause;
    return { url, error: String((c && (c.code || c.message)) || (e && (e.name === 'TimeoutError' ? 'no answer in ' + timeout + ' ms' : e.message)) || e) };
  }
})).then((r) => process.stdout.write(JSON.stringify(r)));`;
  // Node's TLS trusts its own CA list; the probe trusts what Terraform will: SSL_CERT_FILE (a
  // site CA, a TLS-intercepting proxy's), else what Node is told to, else the host's store.
  const extra = env.SSL_CERT_FILE || env.NODE_EXTRA_CA_CERTS || '/etc/ssl/certs/ca-certificates.crt';
  const r = spawnSync(process.execPath, ['-e', script, String(timeoutMs), ...urls], {
    env: { ...env, NODE_EXTRA_CA_CERTS: extra },
    encoding: 'utf8',
    timeout: timeoutMs + 10_000,
  });
  try {
    return JSON.parse(r.stdout) as ProbeResult[];
  } catch {
    return urls.map((url) => ({ url, error: `probe failed: ${(r.stderr || r.error?.message || 'no output').trim().split('\n')[0]}` }));
  }
}

export interface InstallDecision {
  readonly path: InstallPath;
  /** One sentence: why this path. */
  readonly why: string;
}

/**
 * The path for `requested`: an explicit one as given; for auto, online only when a Terraform
 * binary is there and every target answered.
 */
export function decideInstallPath(
  requested: InstallRequest,
  binary: string | undefined,
  targets: readonly ProbeTarget[],
  results: readonly ProbeResult[],
): InstallDecision {
  if (requested !== 'auto') return { path: requested, why: `asked for (--install ${requested} / JHLTI_INSTALL)` };
  if (binary === undefined) {
    return { path: 'offline', why: 'no Terraform or OpenTofu on PATH (the online install does not build one; the offline one builds OpenTofu from source)' };
  }
  const byUrl = new Map(results.map((r) => [r.url, r]));
  const silent: string[] = [];
  const answered: string[] = [];
  for (const t of targets) {
    const rs = t.urls.map((u) => byUrl.get(u) ?? { url: u, error: 'not probed' });
    const ok = rs.find((r) => r.status !== undefined);
    if (ok) answered.push(`${t.what} ${ok.url} (HTTP ${ok.status})`);
    else silent.push(`${t.what} ${rs.map((r) => `${r.url}: ${r.error ?? 'no answer'}`).join(', ')}`);
  }
  if (silent.length > 0) return { path: 'offline', why: `no answer from the ${silent.join('; the ')}` };
  return { path: 'online', why: `${binary} found; the ${answered.join(' and the ')} answer` };
}
