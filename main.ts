/**
 * cdktf entry point. Synthesizes one Terraform stack per environment of the config named by
 * JHLTI_CONFIG (or `cdktf synth -c config=FILE`'s context), or of the embedded demo.
 * A bad config stops here, before anything is written, with every problem listed.
 */
import { App } from 'cdktf';
import { addEnvironments, ConfigError, loadConfig } from './constructs';

function main(): void {
  const app = new App();
  const file = process.env.JHLTI_CONFIG || (app.node.tryGetContext('config') as string | undefined);
  try {
    const config = loadConfig(file);
    addEnvironments(app, config, { protectData: process.env.JHLTI_PURGE_DATA !== '1' });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  app.synth();
}

main();
