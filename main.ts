/**
 * cdktf entry point. Synthesizes one Terraform stack per environment of the config named by
 * JHLTI_CONFIG (or the `config` key of the cdktf.json context), or of the embedded demo.
 * A bad config stops here, before anything is written, with every problem listed.
 */
import { App } from 'cdktf';
import { addEnvironments, ConfigError, loadConfig, ResolvedConfig } from './constructs';

/** `"context": {"config": FILE}` in cdktf.json reaches the app as CDKTF_CONTEXT_JSON. */
function contextConfig(): string | undefined {
  const context = JSON.parse(process.env.CDKTF_CONTEXT_JSON ?? '{}') as { config?: unknown };
  return typeof context.config === 'string' ? context.config : undefined;
}

function main(): void {
  let config: ResolvedConfig;
  try {
    config = loadConfig(process.env.JHLTI_CONFIG || contextConfig());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  // The App creates its output directory, so it comes only after the config is known to be good.
  const app = new App();
  addEnvironments(app, config, { protectData: process.env.JHLTI_PURGE_DATA !== '1', outdir: app.outdir });
  app.synth();
}

main();
