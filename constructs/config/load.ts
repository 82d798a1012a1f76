/**
 * Loading a config: read the file (JSON or YAML), validate it against the schema, apply the
 * cross-field rules, and either return the resolved config or throw one ConfigError listing
 * every problem with its field path, the bad value and the fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DEMO_CONFIG } from './demo';
import { AddIssue, ConfigError, ConfigIssue } from './errors';
import { toConfigIssues } from './issues';
import { ImageProfile, REGISTRY_PATTERN, profileFromEnv } from './images';
import { ResolvedConfig, applyRules, checkCaBundle } from './rules';
import { ConfigSchema } from './schema';

export interface LoadOptions {
  /** Directory relative paths in the config are resolved against. @default the file's directory, or cwd for inline/demo configs */
  readonly baseDir?: string;
  /** Value of JHLTI_BASE_IMAGES. @default process.env.JHLTI_BASE_IMAGES */
  readonly baseImages?: string;
  /**
   * CA bundle for environments whose config sets no images.caBundle ("" for none).
   * @default process.env.JHLTI_CA_BUNDLE
   */
  readonly caBundle?: string;
  /**
   * Registry the official default images are pulled from instead of quay.io (a mirror holding
   * the same repositories); ignored by the local profile. @default process.env.JHLTI_IMAGE_REGISTRY
   */
  readonly imageRegistry?: string;
}

/** Validates an already parsed config object (e.g. the embedded demo, or a test fixture). */
export function resolveConfig(raw: unknown, source: string, options: LoadOptions = {}): ResolvedConfig {
  const profileValue = options.baseImages ?? process.env.JHLTI_BASE_IMAGES;
  const profile = profileFromEnv(profileValue);
  const envIssues: ConfigIssue[] = [];
  const add: AddIssue = (path, message, value) => envIssues.push({ path, message, value });
  if (profile === undefined) add('JHLTI_BASE_IMAGES (environment variable)', 'must be "official" or "local" (the stand-ins built by npm run setup:offline)', profileValue);
  const caValue = options.caBundle ?? process.env.JHLTI_CA_BUNDLE ?? '';
  const caBundle = caValue === '' ? undefined : resolve(caValue);
  if (caBundle !== undefined) checkCaBundle('JHLTI_CA_BUNDLE (environment variable)', caValue, caBundle, add);
  const registryValue = options.imageRegistry ?? process.env.JHLTI_IMAGE_REGISTRY ?? '';
  if (registryValue !== '' && !REGISTRY_PATTERN.test(registryValue)) {
    add('JHLTI_IMAGE_REGISTRY (environment variable)', 'must be a registry as image names start, host[:port][/path] in lower case without a scheme, e.g. "registry.example.edu:5000/quay"', registryValue);
  }
  const imageRegistry = registryValue === '' || !REGISTRY_PATTERN.test(registryValue) ? undefined : registryValue;
  const parsed = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(source, [...envIssues, ...parsed.error.issues.flatMap((i) => toConfigIssues(i))]);
  }
  const { resolved, issues } = applyRules(parsed.data, profile ?? 'official', options.baseDir ?? process.cwd(), caBundle, imageRegistry);
  if (envIssues.length + issues.length > 0) throw new ConfigError(source, [...envIssues, ...issues]);
  return resolved;
}

/** Loads a config file, or the embedded demo when `file` is undefined. */
export function loadConfig(file: string | undefined, options: LoadOptions = {}): ResolvedConfig {
  if (file === undefined || file === '') return resolveConfig(DEMO_CONFIG, 'embedded demo config', options);
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ConfigError(path, [{ path: '', message: `cannot read the config file: ${reason}; set JHLTI_CONFIG (or "config" in the cdktf.json context) to an existing .json/.yaml file, or unset it for the demo` }]);
  }
  return resolveConfig(parseText(text, path), path, { baseDir: dirname(path), ...options });
}

function parseText(text: string, path: string): unknown {
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.json') return JSON.parse(text);
    if (ext === '.yaml' || ext === '.yml') return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new ConfigError(path, [{ path: '', message: `the file is not valid ${ext === '.json' ? 'JSON' : 'YAML'}${where}: ${(e as Error).message.split('\n')[0]}` }]);
  }
  throw new ConfigError(path, [{ path: '', message: `unknown config file type "${ext}"; use .json, .yaml or .yml` }]);
}

export type { ImageProfile };
