import { createHash } from 'node:crypto';
import { LABELS, SERVER_NAME_MAX } from './contract';

/**
 * A course's JupyterHub server name, derived here only (stack.json carries it to the hub).
 * JupyterHub 6 accepts as server names 1-30 lower-case letters, digits and single hyphens, starting
 * with a letter: a course id that is one already is its own server name; any other ("data_lab",
 * longer ids) becomes a hyphenated, shortened form plus 6 hex digits of its hash, so two course
 * ids never share a server name.
 */
export function courseServerName(courseId: string): string {
  const slug = courseId.replace(/_/g, '-');
  if (slug === courseId && slug.length <= SERVER_NAME_MAX) return slug;
  const digest = createHash('sha256').update(courseId).digest('hex').slice(0, 6);
  return `${slug.slice(0, SERVER_NAME_MAX - 7).replace(/-+$/, '')}-${digest}`;
}

/**
 * Docker object names, in one place: they are a public contract (images/CONTRACT.md) and
 * renaming one recreates the object. Every name is `jhlti-<environment>-<what>`, so several
 * environments share one Docker host; the config rules make sure no two environments of one
 * config can produce the same name (no environment name extends another one with "-").
 */
export class StackNames {
  readonly prefix: string;

  constructor(readonly environment: string) {
    this.prefix = `jhlti-${environment}`;
  }

  get usersNetwork(): string { return `${this.prefix}-users`; }
  get controlNetwork(): string { return `${this.prefix}-control`; }
  get proxy(): string { return `${this.prefix}-proxy`; }
  get proxyApiAlias(): string { return `${this.prefix}-proxy-api`; }
  get hub(): string { return `${this.prefix}-hub`; }
  get hubData(): string { return `${this.prefix}-hub-data`; }
  get exchange(): string { return `${this.prefix}-exchange`; }
  /** Username -> uid map the hub writes and graders read (strict nbgrader collect). */
  get uidMap(): string { return `${this.prefix}-uids`; }
  /** The demo launcher's container (a stand-in LMS; opt-in). */
  get demoLauncher(): string { return `${this.prefix}-launcher`; }
  /** The network only the hub and the demo launcher join (its keyset); no user container. */
  get launcherNetwork(): string { return `${this.prefix}-launcher-net`; }
  /**
   * DockerSpawner's name template of user server containers: one per (user, course server).
   * `{username}` and `{servername}` are DockerSpawner's escaped names, which never contain "--",
   * so "--" separates them unambiguously.
   */
  get userServerTemplate(): string { return `${this.prefix}-nb-{username}--{servername}`; }
  /** Name template of the users' home volumes, one per (user, course server) (DockerSpawner, run time). */
  get homeVolumeTemplate(): string { return `${this.prefix}-home-{username}--{servername}`; }
  /** The one home volume per user of releases before course servers (mounted read-write as the user's previous home). */
  get legacyHomeVolumeTemplate(): string { return `${this.prefix}-home-{username}`; }
  /** Every user server container's name starts so (the destroy command removes them). */
  get userServerPrefix(): string { return `${this.prefix}-nb-`; }
  /** Every home volume's name starts so (the destroy command's --purge removes them). */
  get homeVolumePrefix(): string { return `${this.prefix}-home-`; }
  /** engine "swarm": the environment's directory on the shared filesystem (SHARED_LAYOUT inside). */
  get sharedDir(): string { return this.prefix; }
  grader(course: string): string { return `${this.prefix}-grader-${course}`; }
  courseVolume(course: string): string { return `${this.prefix}-course-${course}`; }
  hubImage(hash: string): string { return `jhlti/${this.environment}-hub:${hash.slice(0, 12)}`; }
  notebookImage(course: string, hash: string): string { return `jhlti/${this.environment}-notebook-${course}:${hash.slice(0, 12)}`; }

  /** Names other containers resolve through Docker's DNS (each must fit one DNS label). */
  dnsNames(courses: readonly string[]): string[] {
    return [this.proxy, this.proxyApiAlias, this.hub, this.demoLauncher, ...courses.map((c) => this.grader(c))];
  }
}

/** Labels on every container, volume and network, so tooling can find a stack's objects. */
export function stackLabels(names: StackNames, role: string): { label: string; value: string }[] {
  return [
    { label: LABELS.environment, value: names.environment },
    { label: LABELS.role, value: role },
  ];
}
