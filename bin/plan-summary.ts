/**
 * What a Terraform/OpenTofu plan of one environment means to the people using it.
 *
 * Input: the plan as `terraform show -json <planfile>` prints it. Each resource change is
 * placed by its construct path (the stacks' logical ids start with it: `hub_container_…`,
 * `course-algebra_volume_…`) into a component of the environment or one of its courses, and
 * given the impact a reviewer needs: a restart and what users feel, an image rebuild that waits
 * for the next server start, a data volume deleted or replaced (data loss), a rotated secret
 * with the LMS values to update. Values are never printed, only the names of changed
 * attributes (and none of a sensitive resource).
 */

/** The parts of `terraform show -json` read here. */
export interface PlanJson {
  readonly resource_changes?: readonly {
    readonly address: string;
    readonly type: string;
    readonly name: string;
    readonly mode?: string;
    readonly change: {
      readonly actions: readonly string[];
      readonly before?: unknown;
      readonly after?: unknown;
      readonly after_unknown?: unknown;
      readonly replace_paths?: readonly (readonly (string | number)[])[];
    };
    readonly action_reason?: string;
  }[];
}

export type Severity = 'info' | 'disruptive' | 'data-loss';

export interface Change {
  readonly address: string;
  /** create, update, replace, delete */
  readonly action: 'create' | 'update' | 'replace' | 'delete';
  /** The environment-wide component, or `course <id>`. */
  readonly scope: string;
  readonly component: string;
  readonly impact: string;
  readonly severity: Severity;
  /** Top-level attributes that change (names only). */
  readonly attributes: readonly string[];
}

export interface PlanSummary {
  readonly environment: string;
  readonly changes: readonly Change[];
  readonly dataLoss: boolean;
  /** 0 no change, 2 changes, 3 data would be lost (the CLI's exit codes). */
  readonly exitCode: 0 | 2 | 3;
}

interface Rule {
  readonly match: RegExp;
  readonly component: string;
  /** Impact by action; `data` marks data volumes. */
  readonly impact: (action: Change['action'], m: RegExpMatchArray) => { impact: string; severity: Severity };
}

const restart = (what: string, feel: string) => (action: Change['action']) =>
  action === 'create'
    ? { impact: `${what} is created`, severity: 'info' as const }
    : action === 'delete'
      ? { impact: `${what} is removed: ${feel}`, severity: 'disruptive' as const }
      : { impact: `${what} restarts: ${feel}`, severity: 'disruptive' as const };

const dataVolume = (what: string, holds: string) => (action: Change['action']) =>
  action === 'create'
    ? { impact: `${what} is created (empty)`, severity: 'info' as const }
    : action === 'update'
      ? { impact: `${what}: labels change, data stays`, severity: 'info' as const }
      : { impact: `DATA LOSS: ${what} is ${action === 'delete' ? 'deleted' : 'replaced by an empty one'}: ${holds}`, severity: 'data-loss' as const };

const secret = (what: string, then: string) => (action: Change['action']) =>
  action === 'create'
    ? { impact: `${what} is generated`, severity: 'info' as const }
    : { impact: `${what} is ${action === 'delete' ? 'removed' : 'rotated'}: ${then}`, severity: 'disruptive' as const };

const image = (what: string, when: string) => (action: Change['action']) =>
  action === 'delete'
    ? { impact: `${what} is removed`, severity: 'info' as const }
    : action === 'create'
      ? { impact: `${what} is built`, severity: 'info' as const }
      : { impact: `${what} is rebuilt: ${when}`, severity: 'info' as const };

/** Construct path prefixes of the logical ids (see constructs/environment.ts). */
const RULES: readonly Rule[] = [
  { match: /^course-([a-z0-9_-]+?)_volume_/, component: 'course volume', impact: dataVolume("the course's volume", 'its nbgrader source, releases, gradebook and collected submissions') },
  { match: /^course-([a-z0-9_-]+?)_grader_/, component: 'grader (formgrader)', impact: restart("the course's grader service", 'instructors reload the formgrader; students are not affected') },
  { match: /^course-([a-z0-9_-]+?)_(notebook-image|allowed-image)/, component: 'notebook image', impact: image("the course's notebook image", 'used from the next server start; running servers keep theirs') },
  { match: /^hub_data_volume_/, component: 'hub database volume', impact: dataVolume("the hub's data volume", 'the hub database, launch records, grade passback queue and registrations') },
  { match: /^exchange_volume_/, component: 'nbgrader exchange volume', impact: dataVolume('the nbgrader exchange', 'released assignments and submissions not yet collected') },
  { match: /^uid-map_volume_/, component: 'uid map volume', impact: dataVolume('the uid map', "the users' Unix uids (the graders' proof of who submitted)") },
  { match: /^hub_container_/, component: 'hub', impact: restart('the hub', 'logins and server starts pause for about 20 s; running servers and open notebooks are kept') },
  { match: /^hub_image_/, component: 'hub image', impact: image('the hub image', 'the hub restarts with it') },
  { match: /^proxy_container_/, component: 'proxy', impact: restart('the proxy', 'every open session is dropped (users reload; servers keep running)') },
  { match: /^proxy_image_/, component: 'proxy image', impact: image('the proxy image', 'the proxy restarts with it') },
  // engine "swarm": services, Docker secrets and configs (constructs/swarm.ts)
  { match: /^hub_service_/, component: 'hub', impact: restart('the hub', 'logins and server starts pause for about 20 s; running servers and open notebooks are kept') },
  { match: /^proxy_service_/, component: 'proxy', impact: restart('the proxy', 'every open session is dropped (users reload; servers keep running)') },
  { match: /^hub_(stack-file|outgoing-ca)_/, component: 'hub configuration', impact: restart("the hub's configuration (a Docker config)", 'the hub restarts with it: logins and server starts pause for about 20 s') },
  { match: /^hub_secret-/, component: 'hub secret', impact: restart('a Docker secret of the hub', 'the hub restarts with the new value') },
  { match: /^proxy_tls-(key|cert)_/, component: 'proxy certificate', impact: restart("the proxy's TLS key or certificate (a Docker secret or config)", 'the proxy restarts with it: every open session is dropped') },
  { match: /^networks_/, component: 'networks', impact: restart('a Docker network of the stack', 'containers on it are recreated: a full outage') },
  { match: /^(demo-launcher_|launcher-network)/, component: 'demo launcher', impact: restart('the demo launcher', 'its page reloads') },
  { match: /^tls-cert_/, component: 'TLS certificate', impact: secret("the proxy's TLS certificate", 'LMSs that trust the self-signed certificate must get the new tls_certificate_pem') },
  { match: /^secrets_lti11-shared-secret_/, component: 'LTI 1.1 shared secret', impact: secret('the LTI 1.1 shared secret', 'LTI 1.1 launches fail until every LMS registration has the new lti11_shared_secret (outputs --show-secrets)') },
  { match: /^secrets_lti11-consumer-key_/, component: 'LTI 1.1 consumer key', impact: secret('the LTI 1.1 consumer key', 'LTI 1.1 launches fail until every LMS registration has the new lti11_consumer_key (outputs --show-secrets)') },
  { match: /^secrets_signing-key-([a-z0-9-]+)_/, component: 'tool signing key', impact: secret("a tool signing key", 'platforms fetch the keyset (lti13_jwks_url) again; LMSs with the public key pasted in must get the new one') },
  { match: /^secrets_cookie-secret_/, component: 'cookie secret', impact: secret('the hub cookie secret', 'everyone is logged out and launches again from the LMS') },
  { match: /^secrets_crypt-key_/, component: 'auth state key', impact: secret('the auth state key', 'stored launch state is unreadable until each user launches again') },
  { match: /^secrets_proxy-token_/, component: 'proxy token', impact: secret('the proxy token', 'the hub and the proxy restart') },
  { match: /^secrets_service-token-([a-z0-9_-]+)_/, component: 'service token', impact: secret('a service token', 'its service (grader or idle culler) restarts') },
];

/** Container attributes Docker changes on a running container (docker update): no restart. */
const LIVE_CONTAINER_ATTRIBUTES = new Set(['memory', 'memory_swap', 'cpu_shares', 'cpu_set', 'restart', 'max_retry_count']);

function actionOf(actions: readonly string[]): Change['action'] | undefined {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  if (actions.includes('create')) return 'create';
  if (actions.includes('delete')) return 'delete';
  if (actions.includes('update')) return 'update';
  return undefined; // no-op, read
}

function changedAttributes(before: unknown, after: unknown): string[] {
  if (typeof before !== 'object' || before === null || typeof after !== 'object' || after === null) return [];
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k])).sort();
}

/** The summary of one environment's plan. */
export function summarizePlan(environment: string, plan: PlanJson): PlanSummary {
  const changes: Change[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode === 'data') continue;
    const action = actionOf(rc.change.actions);
    if (action === undefined) continue;
    const rule = RULES.map((r) => ({ r, m: rc.name.match(r.match) })).find((x) => x.m !== null);
    const course = rc.name.match(/^course-([a-z0-9_-]+?)_/)?.[1];
    const secretResource = rc.type === 'random_bytes' || rc.type === 'tls_private_key';
    let { impact, severity } = rule ? rule.r.impact(action, rule.m as RegExpMatchArray) : { impact: `${rc.type} ${action}`, severity: 'info' as Severity };
    const attributes = action === 'update' && !secretResource ? changedAttributes(rc.change.before, rc.change.after) : [];
    if (rc.type === 'docker_container' && action === 'update' && attributes.length > 0 && attributes.every((a) => LIVE_CONTAINER_ATTRIBUTES.has(a))) {
      impact = `${rule?.r.component ?? 'the container'} is changed while it runs (its limits), no restart`;
      severity = 'info';
    }
    changes.push({
      address: rc.address,
      action,
      scope: course !== undefined ? `course ${course}` : 'environment',
      component: rule?.r.component ?? rc.type,
      impact,
      severity,
      attributes,
    });
  }
  const order: Record<Severity, number> = { 'data-loss': 0, disruptive: 1, info: 2 };
  changes.sort((x, y) => (x.scope === y.scope ? 0 : x.scope === 'environment' ? -1 : y.scope === 'environment' ? 1 : x.scope < y.scope ? -1 : 1) || order[x.severity] - order[y.severity] || (x.address < y.address ? -1 : 1));
  const dataLoss = changes.some((c) => c.severity === 'data-loss');
  return { environment, changes, dataLoss, exitCode: dataLoss ? 3 : changes.length > 0 ? 2 : 0 };
}

const MARK: Record<Severity, string> = { 'data-loss': 'DATA LOSS', disruptive: 'users notice', info: 'no interruption' };

/** For a terminal. */
export function renderText(s: PlanSummary): string {
  if (s.changes.length === 0) return `${s.environment}: no changes.\n`;
  const lines = [`${s.environment}: ${s.changes.length} change${s.changes.length === 1 ? '' : 's'}${s.dataLoss ? ' - DATA WOULD BE LOST' : ''}`];
  for (const scope of [...new Set(s.changes.map((c) => c.scope))]) {
    lines.push(`  ${scope}`);
    for (const c of s.changes.filter((x) => x.scope === scope)) {
      lines.push(`    ${c.action.padEnd(7)} ${c.component}: ${c.impact}${c.attributes.length ? ` (changes ${c.attributes.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** For a pull-request comment: the impact first, the resource addresses collapsed. */
export function renderMarkdown(s: PlanSummary): string {
  if (s.changes.length === 0) return `### \`${s.environment}\`: no changes\n`;
  const out = [`### \`${s.environment}\`: ${s.changes.length} change${s.changes.length === 1 ? '' : 's'}`];
  if (s.dataLoss) out.push('', '> **Data would be lost.** The deploy refuses this plan unless `--allow-data-loss` is given.');
  for (const scope of [...new Set(s.changes.map((c) => c.scope))]) {
    out.push('', `**${scope}**`, '', '| | change | impact |', '|---|---|---|');
    for (const c of s.changes.filter((x) => x.scope === scope)) out.push(`| ${MARK[c.severity]} | ${c.action} ${c.component} | ${c.impact.replace(/\|/g, '\\|')} |`);
  }
  out.push('', '<details><summary>Resources</summary>', '', ...s.changes.map((c) => `- \`${c.action}\` \`${c.address}\`${c.attributes.length ? ` (${c.attributes.join(', ')})` : ''}`), '', '</details>');
  return out.join('\n') + '\n';
}
