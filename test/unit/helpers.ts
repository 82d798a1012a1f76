import { Testing } from 'cdktf';
import { join } from 'node:path';
import { addEnvironments, EnvironmentStack, loadConfig, LoadOptions, ResolvedConfig } from '../../constructs';

export const REPO = join(__dirname, '..', '..');
export const FIXTURES = join(REPO, 'test', 'fixtures');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Synthesized {
  readonly stacks: EnvironmentStack[];
  /** Parsed cdk.tf.json per environment name. */
  readonly json: Record<string, Json>;
}

export function synthConfig(config: ResolvedConfig): Synthesized {
  const app = Testing.app();
  const stacks = addEnvironments(app, config);
  const json = Object.fromEntries(stacks.map((s) => [s.node.id, JSON.parse(Testing.synth(s)) as Json]));
  return { stacks, json };
}

export function load(file: string | undefined, options: LoadOptions = {}): ResolvedConfig {
  return loadConfig(file === undefined ? undefined : join(FIXTURES, file), { baseImages: 'official', caBundle: '', ...options });
}

/** All resources of one type in a synthesized stack, by logical id. */
export function resources(stack: Json, type: string): Record<string, Json> {
  return (stack.resource?.[type] ?? {}) as Record<string, Json>;
}

/** The single resource of a type whose `name` is `name`. */
export function byName(stack: Json, type: string, name: string): Json {
  const found = Object.values(resources(stack, type)).filter((r) => r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0];
}
