/** zod's validation issues as ConfigIssues: field path, a message that says how to fix it, the value. */
import { z } from 'zod';
import { ConfigIssue, pathToString } from './errors';

/** One zod issue as config problems; `prefix` is prepended to the field path. */
export function toConfigIssues(issue: z.core.$ZodIssue, prefix = ''): ConfigIssue[] {
  const inner = pathToString(issue.path);
  const path = prefix === '' ? inner : inner === '' ? prefix : inner.startsWith('[') ? `${prefix}${inner}` : `${prefix}.${inner}`;
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: path === '' ? key : `${path}.${key}`,
        message: 'unknown key; remove it or fix its spelling (the README lists every key)',
      }));
    case 'invalid_type':
      if (input === undefined) return [{ path, message: `missing; add it (expected ${issue.expected})` }];
      return [{ path, message: `expected ${issue.expected}`, value: input }];
    case 'invalid_union': {
      // A bad discriminator (tls.mode, state.backend): show the discriminator's value, not the object.
      const key = (issue as { discriminator?: string }).discriminator;
      const value = key !== undefined && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : input;
      return [{ path, message: issue.message, value }];
    }
    default:
      return [{ path, message: issue.message, value: input }];
  }
}

