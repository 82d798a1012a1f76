/** A config problem: where it is, what was found, and (in the message) how to fix it. */
export interface ConfigIssue {
  /** Field path such as `environments[0].courses[1].id`. */
  readonly path: string;
  readonly message: string;
  /** The offending value, when there is one. */
  readonly value?: unknown;
}

/** Records one problem; rules report through it so every problem is listed at once. */
export type AddIssue = (path: string, message: string, value?: unknown) => void;

/** Thrown before anything is synthesized; lists every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`invalid configuration (${source}):\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '(top level)' : issue.path;
  return issue.value === undefined ? `${where}: ${issue.message}` : `${where}: ${issue.message} (got ${showValue(issue.value)})`;
}

function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? `an array of ${value.length}` : typeof value; // too deep or cyclic to print
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** `['environments', 0, 'name']` -> `environments[0].name`. */
export function pathToString(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    const name = String(key);
    return acc === '' ? name : `${acc}.${name}`;
  }, '');
}
