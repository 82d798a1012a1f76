import { DockerProvider, DockerProviderRegistryAuth } from '@cdktf/provider-docker/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { HttpBackend, LocalBackend, S3Backend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { join } from 'node:path';
import type { ResolvedEnvironment } from './config/rules';
import { TeachingEnvironment } from './environment';
import { PROVIDER_VERSIONS } from './provider-versions';

export interface EnvironmentStackProps {
  /** One environment of a config file, resolved by `loadConfig`. */
  readonly environment: ResolvedEnvironment;
  /**
   * Protect data volumes (hub DB, exchange, courses) from destroy.
   * @default true
   */
  readonly protectData?: boolean;
  /**
   * The app's output directory; Terraform runs in <outdir>/stacks/<name>, and paths of provided
   * files are written relative to that.
   * @default cdktf.out under the current directory
   */
  readonly outdir?: string;
}

/**
 * The config-file path: one environment as its own Terraform stack (own state), with the
 * docker, tls and random providers, the backend from the config and the LMS registration
 * outputs around a TeachingEnvironment. `cdktf deploy <name>` touches nothing else.
 */
export class EnvironmentStack extends TerraformStack {
  readonly environment: TeachingEnvironment;

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id);
    const env = props.environment;

    new DockerProvider(this, 'docker', env.engine === 'swarm' && env.swarm !== undefined ? { registryAuth: [swarmRegistryAuth(env.swarm.registry)] } : {});
    this.addOverride('terraform.required_providers.docker.version', PROVIDER_VERSIONS.docker);
    new TlsProvider(this, 'tls', {});
    new RandomProvider(this, 'random', {});
    this.declareBackend(env);

    // "Default" is left out of logical ids, so resources keep the ids they had when the stack
    // declared them itself (renaming one would recreate it).
    this.environment = new TeachingEnvironment(
      this,
      'Default',
      { name: env.name, protectData: props.protectData, stackDir: join(props.outdir ?? join(process.cwd(), 'cdktf.out'), 'stacks', env.name) },
      env,
    );
    for (const course of env.courses) this.environment.addResolvedCourse(course);
    this.environment.declareOutputs();
  }

  private declareBackend(env: ResolvedEnvironment): void {
    const state = env.state;
    switch (state.backend) {
      case 'local':
        new LocalBackend(this, { path: state.path ?? `../../../state/${env.name}.tfstate` });
        break;
      case 's3':
        new S3Backend(this, { bucket: state.bucket, key: state.key, region: state.region, ...(state.endpoint ? { endpoint: state.endpoint } : {}) });
        break;
      case 'http':
        new HttpBackend(this, { address: state.address, lockAddress: state.lockAddress, unlockAddress: state.unlockAddress });
        break;
    }
  }
}

/**
 * The provider's credentials for the swarm's registry (it pushes there and reads digests back):
 * `docker login`'s (the provider reads ~/.docker/config.json or DOCKER_CONFIG), or none.
 */
function swarmRegistryAuth(registry: { readonly address: string; readonly auth: 'docker-config' | 'none'; readonly plainHttp: boolean }): DockerProviderRegistryAuth {
  const host = registry.address.split('/')[0];
  return { address: registry.plainHttp ? `http://${host}` : host, ...(registry.auth === 'none' ? { authDisabled: true } : {}) };
}
