/**
 * Docker object names, in one place: they are a public contract (images/CONTRACT.md) and
 * renaming one recreates the object. Every name carries the environment, so several
 * environments share one Docker host without collisions.
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
  grader(course: string): string { return `${this.prefix}-grader-${course}`; }
  courseVolume(course: string): string { return `${this.prefix}-course-${course}`; }
  hubImage(hash: string): string { return `jhlti/${this.environment}-hub:${hash.slice(0, 12)}`; }
  notebookImage(course: string, hash: string): string { return `jhlti/${this.environment}-notebook-${course}:${hash.slice(0, 12)}`; }
}

/** Ports inside the stack's containers (only the proxy's HTTPS port is published). */
export const PORTS = { proxyHttps: 8443, proxyApi: 8001, hub: 8081, notebook: 8888 } as const;

/** Labels on every container, so tooling can find a stack's objects. */
export function stackLabels(names: StackNames, role: string): { label: string; value: string }[] {
  return [
    { label: 'org.jupyterhub-lti-stack.environment', value: names.environment },
    { label: 'org.jupyterhub-lti-stack.role', value: role },
  ];
}
