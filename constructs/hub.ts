import { Container, ContainerVolumes } from '@cdktf/provider-docker/lib/container';
import { ITerraformDependable, Lazy } from 'cdktf';
import { dependable } from 'cdktf/lib/tfExpression';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildContext, BuiltImage, IMAGES_DIR } from './built-image';
import { PATHS, PORTS, URL_PATHS } from './contract';
import { containerDefaults, SERVING_PATH_CPU_SHARES } from './container-defaults';
import { DataVolume, IDataVolume } from './data-volume';
import { StackNames } from './naming';
import { IStackNetworks } from './network';
import { SecretFile } from './secrets';

export interface HubProps {
  readonly names: StackNames;
  readonly networks: IStackNetworks;
  /** Base image of the hub image (official jupyterhub image or a stand-in). */
  readonly baseImage: string;
  /** PEM CA bundle for pip inside the build. @default - base image trust store */
  readonly caBundle?: string;
  /**
   * PEM CA bundle file the hub trusts for outgoing HTTPS (SSL_CERT_FILE), e.g. an LMS's internal CA.
   * @default - the image's trust store
   */
  readonly outgoingCaBundle?: string;
  /** The uid-map volume, mounted read-write (the spawner writes it). */
  readonly uidMap: IDataVolume;
  /** Host path of the Docker socket DockerSpawner talks to. */
  readonly dockerSocket: string;
  /** Things the hub must never start without (the proxy). More come with `addSpawnDependencies`. */
  readonly dependsOn?: ITerraformDependable[];
  /** @default true */
  readonly protectData?: boolean;
  /** More networks the hub joins (the demo launcher's). @default - users and control only */
  readonly extraNetworks?: readonly string[];
  /**
   * stack.json and the secret files, produced when the stack is synthesized (courses may be
   * added until then).
   */
  readonly runtime: () => HubRuntime;
}

/** What the hub container is given at run time. */
export interface HubRuntime {
  /** Rendered stack.json (no secrets). */
  readonly stackFile: string;
  /** Secret files, uploaded 0600. */
  readonly secretFiles: readonly SecretFile[];
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
  private readonly volumeMounts: ContainerVolumes[];

  constructor(scope: Construct, id: string, props: HubProps) {
    super(scope, id);
    const { names } = props;
    const context = new BuildContext(this, 'context', { source: join(IMAGES_DIR, 'hub'), caBundle: props.caBundle });
    this.image = new BuiltImage(this, 'image', {
      context,
      buildArgs: { BASE_IMAGE: props.baseImage },
      name: (hash) => names.hubImage(hash),
      owner: { environment: names.environment },
    });
    this.dataVolume = new DataVolume(this, 'data', { names, name: names.hubData, role: 'hub-data', protect: props.protectData });
    // The CA bundle travels base64-encoded: a PEM file may carry comments Terraform would read as templates.
    const caUpload =
      props.outgoingCaBundle === undefined
        ? []
        : [{ file: PATHS.hubOutgoingCa, content_base64: readFileSync(props.outgoingCaBundle).toString('base64'), permissions: '0644' }];
    // Resolved at synth: the list follows the courses added until then (Terraform's snake_case keys).
    const upload = Lazy.anyValue({
      produce: () => {
        const runtime = props.runtime();
        return [
          { file: PATHS.hubStackFile, content: runtime.stackFile, permissions: '0644' },
          ...caUpload,
          ...runtime.secretFiles.map((s) => ({ file: `${PATHS.hubSecretsDir}/${s.name}`, content: s.value, permissions: '0600' })),
        ];
      },
    });
    this.volumeMounts = [
      { volumeName: this.dataVolume.name, containerPath: PATHS.hubDataDir },
      { volumeName: props.uidMap.name, containerPath: PATHS.hubUidMapDir },
      { hostPath: props.dockerSocket, containerPath: PATHS.dockerSocket },
    ];
    this.container = new Container(this, 'container', {
      ...containerDefaults(names, 'hub'),
      name: names.hub,
      cpuShares: SERVING_PATH_CPU_SHARES,
      image: this.image.image.imageId,
      // Root only for the Docker socket (owned root:docker); no capability is needed.
      capabilities: { drop: ['ALL'] },
      networksAdvanced: [{ name: props.networks.usersName }, { name: props.networks.controlName }, ...(props.extraNetworks ?? []).map((name) => ({ name }))],
      volumes: this.volumeMounts,
      env: props.outgoingCaBundle === undefined ? undefined : [`SSL_CERT_FILE=${PATHS.hubOutgoingCa}`],
      upload,
      healthcheck: {
        test: ['CMD', 'python3', '-c', `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORTS.hub}${URL_PATHS.health}', timeout=4)`],
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

  /** A course's volume, read-only in the hub (LTI Deep Linking lists the course's assignments). */
  addCourseVolume(courseId: string, volumeName: string): void {
    this.volumeMounts.push({ volumeName, containerPath: `${PATHS.hubCoursesRoot}/${courseId}`, readOnly: true });
    this.container.putVolumes(this.volumeMounts);
  }

  /** Images a spawn may use: the hub must not start before they exist (spawns never pull). */
  addSpawnDependencies(dependencies: readonly ITerraformDependable[]): void {
    this.container.dependsOn = [...(this.container.dependsOn ?? []), ...dependencies.map((d) => dependable(d))];
  }
}
