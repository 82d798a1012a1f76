#!/usr/bin/env node
/**
 * The operator CLI: deploy, diff, destroy and show one environment of a config, with the
 * toolchain the project's setup prepares (an offline machine needs it; see README).
 *
 *   jupyterhub-lti-stack setup
 *   jupyterhub-lti-stack synth   [--config FILE]
 *   jupyterhub-lti-stack diff    <env> [--config FILE]
 *   jupyterhub-lti-stack plan    <env> [--config FILE] [--json | --markdown]
 *   jupyterhub-lti-stack deploy  <env> [--config FILE] [--allow-data-loss]
 *   jupyterhub-lti-stack destroy <env> [--config FILE] [--purge]
 *   jupyterhub-lti-stack outputs <env> [--show-secrets] [--json] [--lms LMS [--lti 1.1|1.3]]
 *   jupyterhub-lti-stack registration-token <env> [--hours N]
 *   jupyterhub-lti-stack registrations <env>
 */
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../constructs/built-image';
import { loadConfig } from '../constructs/config/load';
import { LABELS } from '../constructs/contract';
import { StackNames } from '../constructs/naming';
import { INSTALL_PATHS, InstallDecision, InstallRequest, decideInstallPath, isInstallRequest, probe, probeTargets } from './install-path';
import { PlanJson, PlanSummary, renderMarkdown, renderText, summarizePlan } from './plan-summary';
import { FormError, LMS_NAMES, LTI_VERSIONS, LmsName, LtiVersion, MASKED, TerraformOutputs, formEnvironment, isLmsName, isLtiVersion, lmsForms, renderForms } from './lms-forms';

const USAGE = `usage: jupyterhub-lti-stack <command> [environment] [options]

commands:
  setup              prepare the toolchain: Docker engine, Terraform or OpenTofu and the providers;
                     offline also builds the providers from source and the stand-in base images
  synth              synthesize every environment of the config into the output directory
  diff <env>         plan one environment (what a deploy would change)
  plan <env>         the plan of one environment summarized for reviewers: per component and
                     course, what users will feel; exit 0 no change, 2 changes, 3 data loss
  deploy <env>       deploy one environment, wait until its hub answers, print its LMS values;
                     refuses a plan that deletes or replaces a data volume (see plan)
  destroy <env>      remove one environment and its users' servers; data volumes stay
                     unless --purge (the next deploy reattaches them)
  outputs <env>      the environment's LMS registration values; with --lms, the filled-in
                     registration form of that LMS (guides: docs/lms/)
  registration-token <env>
                     a one-time LTI Dynamic Registration URL for an LMS admin to paste
                     (lti13.dynamicRegistration: true; the deployed hub makes it)
  registrations <env>
                     the completed dynamic registrations, as lti13.platforms entries

options:
  --config FILE      config file (default: $JHLTI_CONFIG, else the embedded demo)
  --output DIR       cdktf output directory (default: cdktf.out)
  --install PATH     "online": Terraform from PATH, providers from their registry (or
                     $JHLTI_PROVIDER_NETWORK_MIRROR), official images pulled (from
                     $JHLTI_IMAGE_REGISTRY if set); "offline": providers built from source,
                     stand-in images built from Debian; "auto" (default, $JHLTI_INSTALL):
                     online when Terraform is on PATH and both registries answer
  --base-images P    "official" (pinned upstream images) or "local" (the stand-ins of setup);
                     default $JHLTI_BASE_IMAGES; for the embedded demo "official" online,
                     "local" offline
  --purge            destroy: also delete hub DB, exchange, course and home volumes
  --show-secrets     outputs: include the sensitive values
  --json             outputs, plan: as JSON
  --markdown         plan: as Markdown (for a pull-request comment)
  --allow-data-loss  deploy: apply a plan that deletes or replaces data volumes
  --lms LMS          outputs: the registration form of moodle, canvas, openedx or openhpi
  --lti VERSION      outputs --lms: only LTI 1.1 or 1.3 (default: every version the
                     environment enables)
  --hours N          registration-token: how long the URL is good (default 24, at most 720)
  --skip-setup       do not run the toolchain setup first (it is fast when done already)
`;

export class UsageError extends Error {}

/** Debian's and Ubuntu's system trust store. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface Options {
  readonly command: string;
  readonly environment?: string;
  readonly config?: string;
  readonly output: string;
  readonly baseImages?: string;
  /** --install or JHLTI_INSTALL. @default "auto" */
  readonly install: InstallRequest;
  readonly purge: boolean;
  readonly showSecrets: boolean;
  readonly json: boolean;
  readonly lms?: LmsName;
  readonly lti?: LtiVersion;
  readonly skipSetup: boolean;
  readonly hours?: number;
  readonly markdown: boolean;
  readonly allowDataLoss: boolean;
}

const COMMANDS: Record<string, { readonly env: boolean; readonly setup: readonly string[] }> = {
  setup: { env: false, setup: ['engine', 'terraform', 'providers', 'base-images', 'env'] },
  synth: { env: false, setup: [] },
  diff: { env: true, setup: ['engine', 'terraform', 'providers', 'env'] },
  plan: { env: true, setup: ['engine', 'terraform', 'providers', 'env'] },
  deploy: { env: true, setup: ['engine', 'terraform', 'providers', 'env'] },
  destroy: { env: true, setup: ['engine', 'terraform', 'providers', 'env'] },
  outputs: { env: true, setup: [] },
  'registration-token': { env: true, setup: [] },
  registrations: { env: true, setup: [] },
};

export function parseArgs(argv: readonly string[], environ: NodeJS.ProcessEnv = process.env): Options {
  const positional: string[] = [];
  const flags = new Set<string>();
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config' || a === '--output' || a === '--base-images' || a === '--install' || a === '--lms' || a === '--lti' || a === '--hours') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      values[a] = v;
    } else if (['--purge', '--show-secrets', '--json', '--markdown', '--allow-data-loss', '--skip-setup', '--help', '-h'].includes(a)) {
      flags.add(a);
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  if (flags.has('--help') || flags.has('-h')) throw new UsageError('');
  const [command, environment, ...rest] = positional;
  if (command === undefined) throw new UsageError('no command given');
  const spec = COMMANDS[command];
  if (spec === undefined) throw new UsageError(`unknown command "${command}"`);
  if (spec.env && environment === undefined) throw new UsageError(`${command} needs an environment name, e.g. "${command} demo"`);
  if ((!spec.env && environment !== undefined) || rest.length > 0) throw new UsageError(`unexpected argument "${spec.env ? rest[0] : environment}"`);
  if (flags.has('--purge') && command !== 'destroy') throw new UsageError('--purge only goes with destroy');
  if (flags.has('--show-secrets') && command !== 'outputs') throw new UsageError('--show-secrets only goes with outputs');
  if (flags.has('--json') && command !== 'outputs' && command !== 'plan') throw new UsageError('--json only goes with outputs and plan');
  if (flags.has('--markdown') && command !== 'plan') throw new UsageError('--markdown only goes with plan');
  if (flags.has('--markdown') && flags.has('--json')) throw new UsageError('--json or --markdown, not both');
  if (flags.has('--allow-data-loss') && command !== 'deploy') throw new UsageError('--allow-data-loss only goes with deploy');
  const lms = values['--lms'];
  const lti = values['--lti'];
  if ((lms !== undefined || lti !== undefined) && command !== 'outputs') throw new UsageError('--lms and --lti only go with outputs');
  if (lms !== undefined && !isLmsName(lms)) throw new UsageError(`--lms must be one of ${LMS_NAMES.join(', ')} (got "${lms}")`);
  if (lti !== undefined && !isLtiVersion(lti)) throw new UsageError(`--lti must be ${LTI_VERSIONS.map((v) => `"${v}"`).join(' or ')} (got "${lti}")`);
  if (lti !== undefined && lms === undefined) throw new UsageError(`--lti goes with --lms (the form of which LMS? ${LMS_NAMES.join(', ')})`);
  const hoursText = values['--hours'];
  if (hoursText !== undefined && command !== 'registration-token') throw new UsageError('--hours only goes with registration-token');
  const hours = hoursText === undefined ? undefined : Number(hoursText);
  if (hours !== undefined && !(Number.isFinite(hours) && hours > 0 && hours <= 720)) throw new UsageError(`--hours must be a number of hours above 0 and at most 720 (got "${hoursText}")`);
  const install = values['--install'] ?? (environ.JHLTI_INSTALL || 'auto');
  if (!isInstallRequest(install)) throw new UsageError(`--install (or JHLTI_INSTALL) must be ${INSTALL_PATHS.map((p) => `"${p}"`).join(', ')}, got "${install}"`);
  const baseImages = values['--base-images'] ?? environ.JHLTI_BASE_IMAGES;
  if (baseImages !== undefined && baseImages !== '' && baseImages !== 'official' && baseImages !== 'local') {
    throw new UsageError(`--base-images must be "official" or "local", got "${baseImages}"`);
  }
  return {
    command,
    environment,
    config: values['--config'] ?? (environ.JHLTI_CONFIG || undefined),
    output: values['--output'] ?? environ.CDKTF_OUTDIR ?? 'cdktf.out',
    baseImages: baseImages || undefined,
    install,
    purge: flags.has('--purge'),
    showSecrets: flags.has('--show-secrets'),
    json: flags.has('--json'),
    lms,
    lti,
    skipSetup: flags.has('--skip-setup') || environ.JHLTI_SKIP_SETUP === '1',
    markdown: flags.has('--markdown'),
    allowDataLoss: flags.has('--allow-data-loss'),
    ...(hours !== undefined ? { hours } : {}),
  };
}

/** The variables of the setup's env.sh (`export K='V'` lines), for commands that run Terraform. */
export function readToolchainEnv(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line) ?? /^export ([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/** Where the operator ran the command: `npm run` moves to the package root but says so in INIT_CWD. */
function invocationDir(): string {
  return process.env.INIT_CWD || process.cwd();
}

class Cli {
  private readonly env: NodeJS.ProcessEnv;
  private readonly cache: string;

  constructor(private readonly o: Options) {
    this.cache = process.env.JHLTI_CACHE || join(homedir(), '.cache', 'jupyterhub-lti-stack');
    const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: '1', CDKTF_OUTDIR: this.outdir };
    if (o.config !== undefined) env.JHLTI_CONFIG = resolve(invocationDir(), o.config);
    else delete env.JHLTI_CONFIG;
    if (o.baseImages !== undefined) env.JHLTI_BASE_IMAGES = o.baseImages;
    // pip inside image builds trusts what this host trusts (a TLS-intercepting proxy's CA
    // included), unless JHLTI_CA_BUNDLE says otherwise ("" for the images' own trust store).
    if (env.JHLTI_CA_BUNDLE === undefined && existsSync(HOST_CA_BUNDLE)) env.JHLTI_CA_BUNDLE = HOST_CA_BUNDLE;
    this.env = env;
  }

  get outdir(): string {
    return isAbsolute(this.o.output) ? this.o.output : resolve(invocationDir(), this.o.output);
  }

  get stackDir(): string {
    return join(this.outdir, 'stacks', this.o.environment as string);
  }

  /**
   * The install path of this command: probed (auto) only when it runs the setup; otherwise the
   * one asked for, else the one the last setup recorded (env.sh), else offline.
   */
  private installPath(runsSetup: boolean): InstallDecision {
    const recorded = readToolchainEnv(join(this.cache, 'env.sh')).JHLTI_INSTALL;
    if (this.o.install !== 'auto') return decideInstallPath(this.o.install, undefined, [], []);
    if (!runsSetup) {
      const path = recorded === 'online' ? 'online' : 'offline';
      return { path, why: recorded ? 'as the last setup chose' : 'no setup has chosen one yet' };
    }
    const found = spawnSync('sh', ['-c', `command -v "${this.env.TERRAFORM_BINARY_NAME ? '$TERRAFORM_BINARY_NAME' : this.env.JHLTI_ENGINE === 'tofu' ? 'tofu' : 'terraform'}"`], { env: this.env, encoding: 'utf8' });
    const binary = found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : undefined;
    const targets = probeTargets(this.env);
    if (binary !== undefined) this.say(`install path auto: probing ${targets.map((t) => t.urls[0]).join(' and ')}`);
    const results = binary === undefined ? [] : probe(targets.flatMap((t) => t.urls), this.env);
    return decideInstallPath('auto', binary, targets, results);
  }

  run(): number {
    const spec = COMMANDS[this.o.command];
    const steps = [...spec.setup];
    const runsSetup = this.o.command === 'setup' || (steps.length > 0 && !this.o.skipSetup);
    const install = this.installPath(runsSetup);
    this.env.JHLTI_INSTALL = install.path;
    // The embedded demo runs on any machine: the official images online, the stand-ins offline.
    if (this.env.JHLTI_BASE_IMAGES === undefined && this.o.config === undefined) this.env.JHLTI_BASE_IMAGES = install.path === 'online' ? 'official' : 'local';
    if (runsSetup) {
      this.say(
        install.path === 'online'
          ? `install path: online (${install.why}): Terraform from PATH, providers from ${this.env.JHLTI_PROVIDER_NETWORK_MIRROR || 'their registry'}, images pulled${this.env.JHLTI_IMAGE_REGISTRY ? ` from ${this.env.JHLTI_IMAGE_REGISTRY}` : ''}; no Go, no debootstrap`
          : `install path: offline (${install.why}): providers built from source with Go, stand-in base images from Debian`,
      );
    }
    if (install.path === 'online') {
      if (steps.includes('base-images')) steps.splice(steps.indexOf('base-images'), 1);
    } else if (this.o.command !== 'setup' && this.env.JHLTI_BASE_IMAGES === 'local' && steps.length > 0) {
      steps.splice(steps.indexOf('env'), 0, 'base-images');
    }
    if (runsSetup) this.setup(steps);
    // cdktf creates only the last directory of --output.
    if (this.o.command !== 'setup') mkdirSync(this.outdir, { recursive: true });
    // Terraform, its CLI config (the provider mirror) and OpenTofu as the setup recorded them.
    for (const [k, v] of Object.entries(readToolchainEnv(join(this.cache, 'env.sh')))) if (!this.env[k]) this.env[k] = v;
    switch (this.o.command) {
      case 'setup':
        return 0;
      case 'synth':
        this.cdktf('synth');
        this.say(`synthesized into ${this.outdir}/stacks/`);
        return 0;
      case 'diff':
        return this.cdktf('diff', this.o.environment as string, '--skip-provider-lock');
      case 'plan': {
        const summary = this.planned();
        process.stdout.write(this.o.json ? `${JSON.stringify(summary, null, 2)}\n` : this.o.markdown ? renderMarkdown(summary) : renderText(summary));
        return summary.exitCode;
      }
      case 'deploy':
        return this.deploy();
      case 'destroy':
        return this.destroy();
      case 'outputs':
        return this.outputs();
      case 'registration-token':
      case 'registrations':
        return this.dynamicRegistration();
    }
    throw new UsageError(`unknown command "${this.o.command}"`);
  }

  private say(message: string): void {
    process.stderr.write(`==> ${message}\n`);
  }

  private exec(cmd: string, args: readonly string[], options: SpawnSyncOptions & { check?: boolean } = {}): { status: number; stdout: string } {
    const r = spawnSync(cmd, args, { env: this.env, stdio: 'inherit', encoding: 'utf8', ...options });
    if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
    const status = r.status ?? 1;
    if (status !== 0 && options.check !== false) throw new CommandFailed(`${[cmd, ...args].join(' ')} exited with ${status}`, status);
    return { status, stdout: typeof r.stdout === 'string' ? r.stdout : '' };
  }

  private setup(steps: readonly string[]): void {
    this.exec('bash', [join(PACKAGE_ROOT, 'bin', 'setup', 'all.sh')], { env: { ...this.env, JHLTI_SETUP_STEPS: steps.join(' ') } });
  }

  private cdktfBinary(): string {
    try {
      const pkg = require.resolve('cdktf-cli/package.json', { paths: [process.cwd(), PACKAGE_ROOT] });
      return join(pkg, '..', 'bundle', 'bin', 'cdktf');
    } catch {
      throw new Error('the cdktf CLI is missing: install it in this project (npm install --save-dev cdktf-cli@0.21.0)');
    }
  }

  private cdktf(...args: string[]): number {
    return this.exec(process.execPath, [this.cdktfBinary(), ...args, '--output', this.outdir]).status;
  }

  /** cdktf with its output on stderr (stdout stays for a command's own result, e.g. plan --json). */
  private cdktfQuiet(...args: string[]): number {
    return this.exec(process.execPath, [this.cdktfBinary(), ...args, '--output', this.outdir], { stdio: ['ignore', process.stderr, 'inherit'] }).status;
  }

  private terraform(args: readonly string[], options: SpawnSyncOptions & { check?: boolean } = {}): { status: number; stdout: string } {
    return this.exec(this.env.TERRAFORM_BINARY_NAME || 'terraform', [`-chdir=${this.stackDir}`, ...args], options);
  }

  /**
   * The environment's plan, summarized (plan-summary.ts). Synthesized without the data volumes'
   * prevent_destroy, so a plan that would delete one shows it (as data loss) instead of failing.
   */
  private planned(): PlanSummary {
    const env = this.o.environment as string;
    const protect = this.env.JHLTI_PURGE_DATA;
    this.env.JHLTI_PURGE_DATA = '1';
    try {
      this.cdktfQuiet('synth');
    } finally {
      if (protect === undefined) delete this.env.JHLTI_PURGE_DATA;
      else this.env.JHLTI_PURGE_DATA = protect;
    }
    this.terraform(['init', '-input=false'], { stdio: ['ignore', 'ignore', 'inherit'] });
    // The plan file holds the state's secret values: it lives only as long as this reading.
    const planFile = join(this.stackDir, 'jhlti.tfplan');
    try {
      this.terraform(['plan', '-input=false', '-lock=false', '-no-color', `-out=${planFile}`], { stdio: ['ignore', 'ignore', 'inherit'] });
      const shown = this.terraform(['show', '-json', planFile], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 }).stdout;
      return summarizePlan(env, JSON.parse(shown) as PlanJson);
    } finally {
      rmSync(planFile, { force: true });
    }
  }

  private deploy(): number {
    const env = this.o.environment as string;
    const summary = this.planned();
    if (summary.dataLoss) {
      process.stderr.write(renderText(summary));
      if (!this.o.allowDataLoss) {
        this.say(`refused: this deploy of ${env} would lose data (above); keep the data (e.g. leave the course in the config) or deploy with --allow-data-loss`);
        return 3;
      }
      this.say('--allow-data-loss: deploying a plan that loses data');
      this.env.JHLTI_PURGE_DATA = '1';
    }
    this.say(`deploy ${env} (config: ${this.env.JHLTI_CONFIG ?? 'embedded demo'}, base images: ${this.env.JHLTI_BASE_IMAGES || 'official'})`);
    const t0 = Date.now();
    this.cdktf('deploy', env, '--auto-approve', '--skip-provider-lock');
    this.say(`deployed ${env} in ${Math.round((Date.now() - t0) / 1000)} s; LMS registration values (outputs ${env} --show-secrets for the secrets):`);
    this.terraform(['output']);
    const launcher = this.terraform(['output', '-raw', 'demo_launcher_url'], { stdio: ['ignore', 'pipe', 'ignore'], check: false });
    if (launcher.status === 0 && launcher.stdout.startsWith('https://')) {
      this.say(`try it without an LMS: open the demo launcher at ${launcher.stdout.trim()} (a self-signed certificate: accept it there and at the hub_url)`);
    }
    return 0;
  }

  private destroy(): number {
    const env = this.o.environment as string;
    const names = new StackNames(env);
    const purge = this.o.purge;
    if (purge) this.env.JHLTI_PURGE_DATA = '1';
    else delete this.env.JHLTI_PURGE_DATA;
    this.cdktf('synth');
    this.terraform(['init', '-input=false'], { stdio: ['ignore', 'ignore', 'inherit'] });
    // DockerSpawner's user servers are not in the state but sit on the stack's users network,
    // whose removal would fail while they run; their home volumes stay (unless --purge).
    const servers = this.docker(['ps', '-aq', '--filter', `name=^${names.userServerPrefix}`]);
    if (servers.length > 0) {
      this.say(`removing the ${servers.length} user server(s) of ${env}`);
      this.exec('docker', ['rm', '-f', ...servers], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    // On a swarm they are services (SwarmSpawner's); an engine outside a swarm has none to list.
    const listed = this.exec('docker', ['service', 'ls', '--format', '{{.Name}}', '--filter', `name=${names.userServerPrefix}`], { stdio: ['ignore', 'pipe', 'ignore'], check: false });
    const services = listed.status === 0 ? listed.stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(names.userServerPrefix)) : [];
    if (services.length > 0) {
      this.say(`removing the ${services.length} user server service(s) of ${env}`);
      this.exec('docker', ['service', 'rm', ...services], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    if (!purge) {
      // Data volumes are protected (prevent_destroy): forget them, so destroy removes everything
      // else and a later deploy adopts the same volumes with their data.
      const state = this.terraform(['state', 'list'], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout.split('\n');
      for (const address of state.filter((a) => a.startsWith('docker_volume.'))) {
        this.say(`keeping ${address} (its Docker volume stays; deploy again to reattach it)`);
        this.terraform(['state', 'rm', address], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
    } else {
      this.say(`destroy ${env} including its data volumes (--purge)`);
    }
    this.cdktf('destroy', env, '--auto-approve', '--skip-provider-lock');
    if (purge) {
      // The users' homes are DockerSpawner's (not in the state); data volumes an earlier destroy
      // kept are not in the state either: both go by name and by the stack's label.
      const homes = this.docker(['volume', 'ls', '-q', '--filter', `name=^${names.homeVolumePrefix}`]);
      const kept = this.docker(['volume', 'ls', '-q', '--filter', `label=${LABELS.environment}=${env}`]);
      const volumes = [...new Set([...homes, ...kept])].filter((v) => v.startsWith(`${names.prefix}-`));
      if (volumes.length > 0) {
        this.say(`removing ${volumes.length} volume(s) of ${env}: ${volumes.join(' ')}`);
        this.exec('docker', ['volume', 'rm', ...volumes], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
      const cluster = loadConfig(this.env.JHLTI_CONFIG, { baseImages: this.env.JHLTI_BASE_IMAGES ?? '', caBundle: this.env.JHLTI_CA_BUNDLE ?? '' })
        .environments.find((e) => e.name === env);
      if (cluster?.engine === 'swarm' && cluster.swarm !== undefined) {
        // No node's filesystem is this command's to delete: the operator removes it on one of them.
        const where = cluster.swarm.nfs !== undefined ? `${cluster.swarm.nfs.address}:${cluster.swarm.nfs.path}/${names.sharedDir}` : `${cluster.swarm.sharedRoot}/${names.sharedDir}`;
        const volumes = cluster.swarm.nfs !== undefined ? `; each node keeps the NFS volume definitions ${names.prefix}-nfs-* (docker volume prune there)` : '';
        this.say(`kept ${where} on the swarm's shared storage (homes, exchange, course directories): remove it there to delete that data too${volumes}`);
      }
    }
    return 0;
  }

  /** The deployed hub keeps the one-time tokens and the registrations (dynamic_registration.py). */
  private dynamicRegistration(): number {
    const hub = new StackNames(this.o.environment as string).hub;
    // One engine: the container is named so; a swarm: the hub service's task, on the manager DOCKER_HOST names.
    const container = this.docker(['ps', '-q', '--filter', `name=^${hub}$`]).length > 0 ? hub : (this.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${hub}`])[0] ?? hub);
    const args = this.o.command === 'registrations' ? ['list'] : ['token', ...(this.o.hours !== undefined ? ['--hours', String(this.o.hours)] : [])];
    const r = this.exec('docker', ['exec', container, 'python3', '-m', 'jupyterhub_lti_stack.dynamic_registration', ...args], { check: false });
    if (r.status !== 0 && r.status !== 2) this.say(`is ${this.o.environment} deployed? (its hub container ${hub}, or on a swarm its service's task on this manager, must run)`);
    return r.status;
  }

  private docker(args: readonly string[]): string[] {
    return this.exec('docker', args, { stdio: ['ignore', 'pipe', 'inherit'] })
      .stdout.split('\n')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  private outputs(): number {
    if (!existsSync(join(this.stackDir, 'cdk.tf.json'))) this.cdktf('synth');
    this.terraform(['init', '-input=false'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (!this.o.json && !this.o.showSecrets && this.o.lms === undefined) {
      this.terraform(['output']);
      return 0;
    }
    const raw = JSON.parse(this.terraform(['output', '-json'], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout) as TerraformOutputs;
    if (this.o.lms !== undefined) return this.registrationForms(this.o.lms, raw);
    const shown = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.sensitive && !this.o.showSecrets ? MASKED : v.value]));
    const text = Object.entries(shown).map(([k, v]) => `${k} = ${typeof v === 'string' ? v.trimEnd() : JSON.stringify(v)}`);
    process.stdout.write(this.o.json ? `${JSON.stringify(shown, null, 2)}\n` : `${text.join('\n')}\n`);
    return 0;
  }

  /** One LMS's registration form, filled with the outputs; the config says what the environment enables. */
  private registrationForms(lms: LmsName, outputs: TerraformOutputs): number {
    const file = this.env.JHLTI_CONFIG;
    const config = loadConfig(file, { baseImages: this.env.JHLTI_BASE_IMAGES ?? '', caBundle: this.env.JHLTI_CA_BUNDLE ?? '' });
    const env = formEnvironment(config, this.o.environment as string, file ?? 'embedded demo config');
    const forms = lmsForms(lms, env, outputs, { lti: this.o.lti, showSecrets: this.o.showSecrets });
    process.stdout.write(this.o.json ? `${JSON.stringify({ environment: env.name, lms, forms }, null, 2)}\n` : renderForms(forms, env));
    return 0;
  }
}

class CommandFailed extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function main(argv: readonly string[]): number {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message === '') {
        process.stdout.write(USAGE);
        return 0;
      }
      process.stderr.write(`jupyterhub-lti-stack: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  try {
    return new Cli(options).run();
  } catch (e) {
    if (e instanceof FormError) {
      process.stderr.write(`jupyterhub-lti-stack: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CommandFailed) {
      process.stderr.write(`jupyterhub-lti-stack: ${e.message}\n`);
      return e.status;
    }
    process.stderr.write(`jupyterhub-lti-stack: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
