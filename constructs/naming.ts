import { LABELS } from './contract';

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
  /** DockerSpawner's name template of user server containers (`{username}` is its escaped user name). */
  get userServerTemplate(): string { return `${this.prefix}-nb-{username}`; }
  /** Name template of the users' home volumes (created by DockerSpawner at run time). */
  get homeVolumeTemplate(): string { return `${this.prefix}-home-{username}`; }
  grader(course: string): string { return `${this.prefix}-grader-${course}`; }
  courseVolume(course: string): string { return `${this.prefix}-course-${course}`; }
  hubImage(hash: string): string { return `jhlti/${this.environment}-hub:${hash.slice(0, 12)}`; }
  notebookImage(course: string, hash: string): string { return `jhlti/${this.environment}-notebook-${course}:${hash.slice(0, 12)}`; }

  /** Names other containers resolve through Docker's DNS (each must fit one DNS label). */
  dnsNames(courses: readonly string[]): string[] {
    return [this.proxy, this.proxyApiAlias, this.hub, ...courses.map((c) => this.grader(c))];
  }
}

/** Labels on every container, volume and network, so tooling can find a stack's objects. */
export function stackLabels(names: StackNames, role: string): { label: string; value: string }[] {
  return [
    { label: LABELS.environment, value: names.environment },
    { label: LABELS.role, value: role },
  ];
}
