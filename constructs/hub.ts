import { Container } from '@cdktf/provider-docker/lib/container';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildContext, BuiltImage, IMAGES_DIR } from './built-image';
import { containerDefaults } from './container-defaults';
import { DataVolume } from './data-volume';
import { PORTS, StackNames } from './naming';
import { StackNetworks } from './network';
import { SecretFile } from './secrets';

const OUTGOING_CA_FILE = '/srv/jupyterhub/outgoing-ca.pem';

export interface HubProps {
  readonly names: StackNames;
  readonly networks: StackNetworks;
  /** Base image of the hub image (official jupyterhub image or a stand-in). */
  readonly baseImage: string;
  /** PEM CA bundle for pip inside the build. @default - base image trust store */
  readonly caBundle?: string;
  /** Rendered stack.json (no secrets). */
  readonly stackFile: string;
  /**
   * PEM CA bundle the hub trusts for outgoing HTTPS (SSL_CERT_FILE), e.g. an LMS's internal CA.
   * @default - the image's trust store
   */
  readonly outgoingCaBundle?: string;
  /** The uid-map volume, mounted read-write at /srv/jupyterhub/uids (the spawner writes it). */
  readonly uidMap: DataVolume;
  /** Secret files, uploaded 0600. */
  readonly secretFiles: readonly SecretFile[];
  /** Host path of the Docker socket DockerSpawner talks to. */
  readonly dockerSocket: string;
  /** Things the hub must not start before (the proxy, every image a spawn may use). */
  readonly dependsOn?: ITerraformDependable[];
  /** @default true */
  readonly protectData?: boolean;
}

/**
 * The JupyterHub container: built from images/hub (jupyterhub_config.py + the
 * jupyterhub_lti_stack package), its sqlite DB on a data volume, its environment in
 * stack.json and its secrets in 0600 files. The only container with the Docker socket.
 */
export class Hub extends Construct {
  readonly image: BuiltImage;
  readonly dataVolume: DataVolume;
  readonly container: Container;

  constructor(scope: Construct, id: string, props: HubProps) {
    super(scope, id);
    const { names } = props;
    const context = new BuildContext(this, 'context', { source: join(IMAGES_DIR, 'hub'), caBundle: props.caBundle });
    this.image = new BuiltImage(this, 'image', {
      context,
      buildArgs: { BASE_IMAGE: props.baseImage },
      name: (hash) => names.hubImage(hash),
      labels: { 'org.jupyterhub-lti-stack.environment': names.environment },
    });
    this.dataVolume = new DataVolume(this, 'data', { names, name: names.hubData, role: 'hub-data', protect: props.protectData });
    this.container = new Container(this, 'container', {
      ...containerDefaults(names, 'hub'),
      name: names.hub,
      image: this.image.image.imageId,
      // Root only for the Docker socket (owned root:docker); no capability is needed.
      capabilities: { drop: ['ALL'] },
      networksAdvanced: [{ name: props.networks.usersName }, { name: props.networks.controlName }],
      volumes: [
        { volumeName: this.dataVolume.name, containerPath: '/srv/jupyterhub/data' },
        { volumeName: props.uidMap.name, containerPath: '/srv/jupyterhub/uids' },
        { hostPath: props.dockerSocket, containerPath: '/var/run/docker.sock' },
      ],
      env: props.outgoingCaBundle === undefined ? undefined : [`SSL_CERT_FILE=${OUTGOING_CA_FILE}`],
      upload: [
        { file: '/srv/jupyterhub/stack.json', content: props.stackFile, permissions: '0644' },
        ...(props.outgoingCaBundle === undefined ? [] : [{ file: OUTGOING_CA_FILE, content: readFileSync(props.outgoingCaBundle, 'utf8'), permissions: '0644' }]),
        ...props.secretFiles.map((s) => ({ file: `/srv/jupyterhub/secrets/${s.name}`, content: s.value, permissions: '0600' })),
      ],
      healthcheck: {
        test: ['CMD', 'python3', '-c', `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORTS.hub}/hub/health', timeout=4)`],
        interval: '5s',
        timeout: '5s',
        retries: 6,
        startPeriod: '45s', // under a minute: the engine reports 60s back as "1m0s", a perpetual diff
      },
      // A deploy is done when the hub answers, not merely when its container runs.
      wait: true,
      waitTimeout: 180,
      dependsOn: props.dependsOn,
    });
  }
}
