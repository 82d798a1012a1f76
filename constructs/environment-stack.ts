import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { HttpBackend, LocalBackend, S3Backend, TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { BuildContext, IMAGES_DIR } from './built-image';
import type { ResolvedEnvironment } from './config/rules';
import { Course } from './course';
import { DataVolume } from './data-volume';
import { Hub } from './hub';
import { StackNames } from './naming';
import { StackNetworks } from './network';
import { PROVIDER_VERSIONS } from './provider-versions';
import { Proxy } from './proxy';
import { HubSecrets } from './secrets';
import { renderStackFile } from './stack-file';
import { StackTls } from './tls';

export interface EnvironmentStackProps {
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
 * One environment as its own Terraform stack (own state): networks, TLS, secrets, the proxy,
 * the hub, the exchange and uid-map volumes and every course. `cdktf deploy <name>` touches nothing else.
 */
export class EnvironmentStack extends TerraformStack {
  readonly names: StackNames;
  readonly publicUrl: string;
  readonly networks: StackNetworks;
  readonly tls: StackTls;
  readonly secrets: HubSecrets;
  readonly exchange: DataVolume;
  readonly uidMap: DataVolume;
  readonly courses: Course[];
  readonly proxy: Proxy;
  readonly hub: Hub;

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id);
    const env = props.environment;
    const names = (this.names = new StackNames(env.name));
    this.publicUrl = `https://${env.hostname}${env.port === 443 ? '' : `:${env.port}`}`;

    new DockerProvider(this, 'docker', {});
    this.addOverride('terraform.required_providers.docker.version', PROVIDER_VERSIONS.docker);
    new TlsProvider(this, 'tls', {});
    new RandomProvider(this, 'random', {});
    this.declareBackend(env);

    this.networks = new StackNetworks(this, 'networks', { names });
    this.tls = new StackTls(this, 'tls-cert', {
      tls: env.tls,
      hostname: env.hostname,
      stackDir: join(props.outdir ?? join(process.cwd(), 'cdktf.out'), 'stacks', env.name),
    });
    this.secrets = new HubSecrets(this, 'secrets', { lti11: env.lti11.enabled, courses: env.courses.map((c) => c.id) });
    this.exchange = new DataVolume(this, 'exchange', { names, name: names.exchange, role: 'exchange', protect: props.protectData });
    // Which uid each hub user's server runs as: written by the hub, read by graders to reject
    // submissions filed under another student's name. Never mounted into user servers.
    this.uidMap = new DataVolume(this, 'uid-map', { names, name: names.uidMap, role: 'uid-map', protect: props.protectData });

    const notebookContext = new BuildContext(this, 'notebook-context', { source: join(IMAGES_DIR, 'notebook'), caBundle: env.images.caBundle });
    this.courses = env.courses.map(
      (course) =>
        new Course(this, `course-${course.id}`, {
          names,
          course,
          networks: this.networks,
          notebookContext,
          exchange: this.exchange,
          uidMap: this.uidMap,
          serviceToken: this.secrets.serviceToken(course.id),
          memory: env.limits.memory,
          protectData: props.protectData,
        }),
    );

    this.proxy = new Proxy(this, 'proxy', {
      names,
      networks: this.networks,
      image: env.images.proxy,
      certificatePem: this.tls.certificatePem,
      privateKeyPem: this.tls.privateKeyPem,
      proxyToken: this.secrets.proxyToken,
      port: env.port,
      bindAddress: env.bindAddress,
    });

    const courseImages = new Map(this.courses.map((c, i) => [env.courses[i].id, c.notebookImage.name]));
    this.hub = new Hub(this, 'hub', {
      names,
      networks: this.networks,
      baseImage: env.images.hubBase,
      caBundle: env.images.caBundle,
      stackFile: renderStackFile(env, names, courseImages, this.publicUrl),
      secretFiles: this.secrets.hubFiles(),
      uidMap: this.uidMap,
      dockerSocket: env.dockerSocket,
      outgoingCaBundle: env.platformCaBundle,
      protectData: props.protectData,
      // Spawns must find every image present (no pulls), and routes go to a running proxy.
      dependsOn: [this.proxy.container, ...this.courses.flatMap((c) => [c.notebookImage.image, ...c.allowedImages])],
    });

    this.declareOutputs(env);
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

  private declareOutputs(env: ResolvedEnvironment): void {
    const out = (id: string, value: string, description: string, sensitive = false) => new TerraformOutput(this, id, { value, description, sensitive });
    out('hub_url', `${this.publicUrl}/hub/`, 'JupyterHub URL.');
    out('tls_certificate_pem', this.tls.certificatePem, 'Certificate the proxy serves (for LMS trust stores when self-signed).');
    if (env.lti11.enabled && this.secrets.lti11ConsumerKey && this.secrets.lti11SharedSecret) {
      out('lti11_launch_url', `${this.publicUrl}/hub/lti/launch`, 'LTI 1.1 launch URL to register in the LMS.');
      out('lti11_config_xml_url', `${this.publicUrl}/hub/lti11/config`, 'LTI 1.1 tool configuration XML (Canvas "By URL").');
      out('lti11_consumer_key', this.secrets.lti11ConsumerKey, 'LTI 1.1 consumer key.', true);
      out('lti11_shared_secret', this.secrets.lti11SharedSecret, 'LTI 1.1 shared secret.', true);
    }
    if (env.lti13.enabled) {
      out('lti13_login_initiation_url', `${this.publicUrl}/hub/lti13/oauth_login`, 'LTI 1.3 OIDC login initiation URL.');
      out('lti13_redirect_url', `${this.publicUrl}/hub/lti13/oauth_callback`, 'LTI 1.3 redirect (launch) URL.');
      out('lti13_config_url', `${this.publicUrl}/hub/lti13/config`, 'LTI 1.3 tool configuration JSON (Canvas developer key "Enter URL").');
    }
  }
}
