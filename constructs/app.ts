import { App } from 'cdktf';
import type { ResolvedConfig } from './config/rules';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

/** Adds one EnvironmentStack per environment of the config; stack id = environment name. */
export function addEnvironments(app: App, config: ResolvedConfig, options: Omit<EnvironmentStackProps, 'environment'> = {}): EnvironmentStack[] {
  return config.environments.map((environment) => new EnvironmentStack(app, environment.name, { ...options, environment }));
}
