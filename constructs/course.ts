import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { BuildContext, BuiltImage } from './built-image';
import { CONTAINER_ENV, PATHS, PORTS, SHARED_LAYOUT, URL_PATHS } from './contract';
import { memoryBytes } from './config/schema';
import { Service } from '@cdktf/provider-docker/lib/service';
import { PushedImage, SwarmCluster, mountsOf, settle, sharedMount } from './swarm';
import { START_CAPABILITIES_ENGINE, containerDefaults, memoryMegabytes } from './container-defaults';
import { DataVolume, IDataVolume } from './data-volume';
import { StackNames, courseServerName, stackLabels } from './naming';
import { IStackNetworks } from './network';

/** A course as the hub needs to know it (what goes into stack.json). */
export interface ICourse {
  readonly courseId: string;
  readonly title: string;
  readonly contexts: readonly string[];
  /** Name (with tag) of the course's notebook image. */
  readonly imageName: string;
  readonly allowedImages: readonly string[];
  readonly graderUid: number;
  /** Whether the course's scores go back to the LMS. */
  readonly gradePassback: boolean;
  /** The JupyterHub server name of the course's user servers. */
  readonly serverName: string;
  /** Memory limit of the course's user servers (and grader), e.g. "2G". */
  readonly memory: string;
  /** CPUs of the course's user servers. */
  readonly cpus: number;
  /** The course's user servers stop when idle this long. */
  readonly idleCullSeconds: number;
  /** When the known students' servers start ahead of sessions; undefined: no pre-warm. */
  readonly prewarm?: CoursePrewarm;
  /** The grader service's URL as the hub reaches it. */
  readonly graderUrl: string;
  /** The hub user the formgrader acts as. */
  readonly graderUser: string;
  /** The grader service's OAuth client id. */
  readonly oauthClientId: string;
  readonly volumeName: string;
  /** Everything a server of this course needs present before the hub may spawn one. */
  readonly spawnDependencies: readonly ITerraformDependable[];
}

/** Pre-warm of a course's servers (the config's `courses[].prewarm`, resolved). */
export interface CoursePrewarm {
  /** Weekly session starts, "mon 09:15". */
  readonly sessions: readonly string[];
  /** IANA time zone of the session times. */
  readonly timezone: string;
  /** Servers start this long before a session. */
  readonly leadMinutes: number;
  /** Servers starting at once. */
  readonly concurrency: number;
}

/** What a course takes from the environment it belongs to. */
export interface CourseEnvironment {
  readonly names: StackNames;
  readonly networks: IStackNetworks;
  /** The environment's notebook build context (images/notebook), shared by its courses. */
  readonly notebookContext: BuildContext;
  /** The exchange volume (one engine). */
  readonly exchange?: IDataVolume;
  /** The hub's username -> uid map, mounted read-only (strict collect checks submission owners); one engine. */
  readonly uidMap?: IDataVolume;
  /** The environment's server limits, for courses that set none. */
  readonly limits: { readonly memory: string; readonly cpus: number; readonly idleCullSeconds: number };
  /** Protect the course volume from destroy. */
  readonly protectData: boolean;
  /** iframe mode: the LMS origins allowed to frame the grader service; empty: framing refused. */
  readonly frameAncestors: readonly string[];
  /** The environment's public URL (the grader's Course List links to its formgrader there). */
  readonly publicUrl: string;
  /** engine "swarm": the cluster; the grader is a service there, its course directory on the shared filesystem. @default one engine */
  readonly swarm?: SwarmCluster;
}

export interface CourseProps {
  readonly environment: CourseEnvironment;
  /** nbgrader course id; also the grader service name and part of Docker names. */
  readonly courseId: string;
  /** Human-readable title. */
  readonly title: string;
  /** LMS context ids that launch into this course. */
  readonly contexts: readonly string[];
  /** Base image of the course's notebook image. */
  readonly notebookBase: string;
  /** Further images a launch may choose; pulled ahead so a spawn never pulls. */
  readonly allowedImages: readonly string[];
  /** Unix uid of the course's grader account. */
  readonly graderUid: number;
  /** Send the course's scores back to the LMS. @default false */
  readonly gradePassback?: boolean;
  /** Memory of the course's servers and grader. @default the environment's */
  readonly memory?: string;
  /** CPUs of the course's servers. @default the environment's */
  readonly cpus?: number;
  /** Stop the course's servers idle this long. @default the environment's */
  readonly idleCullSeconds?: number;
  /** Start the known students' servers ahead of sessions. @default none */
  readonly prewarm?: CoursePrewarm;
  /** API token of the course's grader service (sensitive). */
  readonly serviceToken: string;
}

/**
 * One course: its notebook image (nbgrader + kernels, so a spawn never pulls), the images a
 * launch may choose from its allow-list, its course volume, and its grader service (formgrader
 * as a JupyterHub service named after the course, reachable only by its instructors).
 * Created by `TeachingEnvironment.addCourse`, which validates the values first.
 */
export class Course extends Construct implements ICourse {
  readonly courseId: string;
  readonly title: string;
  readonly contexts: readonly string[];
  readonly allowedImages: readonly string[];
  readonly graderUid: number;
  readonly gradePassback: boolean;
  readonly serverName: string;
  readonly memory: string;
  readonly cpus: number;
  readonly idleCullSeconds: number;
  readonly prewarm?: CoursePrewarm;
  readonly graderUrl: string;
  readonly graderUser: string;
  readonly oauthClientId: string;
  readonly volumeName: string;
  readonly notebookImage: BuiltImage;
  /** engine "swarm": the notebook image as pushed to the cluster's registry. */
  readonly pushedImage?: PushedImage;
  readonly allowedImageResources: Image[];
  /** The course volume (one engine; on a swarm the course directory is on the shared filesystem). */
  readonly volume?: DataVolume;
  readonly grader: Container | Service;

  constructor(scope: Construct, id: string, props: CourseProps) {
    super(scope, id);
    const { names } = props.environment;
    const courseId = props.courseId;
    this.courseId = courseId;
    this.title = props.title;
    this.contexts = [...props.contexts];
    this.allowedImages = [...props.allowedImages];
    this.graderUid = props.graderUid;
    this.gradePassback = props.gradePassback ?? false;
    this.serverName = courseServerName(courseId);
    this.memory = props.memory ?? props.environment.limits.memory;
    this.cpus = props.cpus ?? props.environment.limits.cpus;
    this.idleCullSeconds = props.idleCullSeconds ?? props.environment.limits.idleCullSeconds;
    this.prewarm = props.prewarm === undefined ? undefined : { ...props.prewarm, sessions: [...props.prewarm.sessions] };
    this.graderUser = `grader-${courseId}`;
    this.oauthClientId = `service-${courseId}`;
    this.graderUrl = `http://${names.grader(courseId)}:${PORTS.notebook}`;
    this.volumeName = names.courseVolume(courseId);

    const imageProps = {
      context: props.environment.notebookContext,
      buildArgs: { BASE_IMAGE: props.notebookBase },
      name: (hash: string) => names.notebookImage(courseId, hash),
      owner: { environment: names.environment, course: courseId },
    };
    const cluster = props.environment.swarm;
    if (cluster !== undefined) {
      this.pushedImage = new PushedImage(this, 'notebook-image', { ...imageProps, cluster });
      this.notebookImage = this.pushedImage.built;
    } else {
      this.notebookImage = new BuiltImage(this, 'notebook-image', imageProps);
    }
    this.allowedImageResources = props.allowedImages.map((ref, i) => new Image(this, `allowed-image-${i}`, { name: ref, keepLocally: true }));
    if (cluster === undefined) {
      this.volume = new DataVolume(this, 'volume', { names, name: names.courseVolume(courseId), role: 'course', protect: props.environment.protectData });
    }

    const prefix = `/services/${courseId}/`;
    const env = [
      `NB_UID=${props.graderUid}`,
      // The grader-only nbgrader config (strict collect), also for `docker exec` shells.
      `JUPYTER_CONFIG_PATH=${PATHS.graderConfigDir}`,
      `${CONTAINER_ENV.courseId}=${courseId}`,
      // jhlti_passback posts the course's scores to the hub when grade passback is on.
      `${CONTAINER_ENV.gradePassback}=${this.gradePassback ? 1 : 0}`,
      // iframe mode: the formgrader may be framed by the LMS too (jhlti_embedding).
      ...(props.environment.frameAncestors.length > 0 ? [`${CONTAINER_ENV.frameAncestors}=${props.environment.frameAncestors.join(' ')}`] : []),
      `JUPYTERHUB_USER=${this.graderUser}`,
      `JUPYTERHUB_SERVICE_NAME=${courseId}`,
      `JUPYTERHUB_API_URL=http://${names.hub}:${PORTS.hub}/hub/api`,
      `JUPYTERHUB_API_TOKEN=${props.serviceToken}`,
      `JUPYTERHUB_CLIENT_ID=${this.oauthClientId}`,
      `JUPYTERHUB_SERVICE_PREFIX=${prefix}`,
      'JUPYTERHUB_BASE_URL=/',
      // What JupyterHub gives its own servers: the hub's public URL (jhlti_nbgrader's Course List).
      `JUPYTERHUB_PUBLIC_HUB_URL=${props.environment.publicUrl}${URL_PATHS.hub}`,
      `JUPYTERHUB_OAUTH_CALLBACK_URL=${prefix}oauth_callback`,
      `JUPYTERHUB_SERVICE_URL=http://0.0.0.0:${PORTS.notebook}${prefix}`,
    ];
    if (cluster !== undefined && this.pushedImage !== undefined) {
      this.grader = swarmGrader(this, {
        names,
        cluster,
        courseId,
        image: this.pushedImage.name,
        env,
        memoryBytes: memoryBytes(this.memory),
        usersNetwork: props.environment.networks.usersName,
        usersNetworkId: props.environment.networks.usersId,
      });
      return;
    }
    const memory = memoryMegabytes(this.memory);
    const volume = this.volume as DataVolume;
    this.grader = new Container(this, 'grader', {
      ...containerDefaults(names, 'grader'),
      name: names.grader(courseId),
      image: this.notebookImage.image.imageId,
      command: [PATHS.startScript, 'grader'],
      // Starts as root to prepare the course directory, then drops to the grader uid with no
      // capabilities left (images/notebook/jhlti-start).
      capabilities: { drop: ['ALL'], add: [...START_CAPABILITIES_ENGINE] },
      // memory_swap equal to memory: no swap, and no perpetual diff from the provider.
      memory,
      memorySwap: memory,
      env,
      networksAdvanced: [{ name: props.environment.networks.usersName }],
      volumes: [
        { volumeName: volume.name, containerPath: `${PATHS.coursesRoot}/${courseId}` },
        { volumeName: props.environment.exchange?.name as string, containerPath: PATHS.exchangeRoot },
        { volumeName: props.environment.uidMap?.name as string, containerPath: PATHS.graderUidMapDir, readOnly: true },
      ],
    });
  }

  get imageName(): string {
    // A plain name (the pushed one on a swarm): stack.json carries it to the hub.
    return this.notebookImage.name;
  }

  get spawnDependencies(): ITerraformDependable[] {
    return [this.pushedImage?.push ?? this.notebookImage.image, ...this.allowedImageResources];
  }
}

/** The grader as a service on the cluster's nodes: its course directory, the exchange and the uid map on the shared filesystem. */
function swarmGrader(
  scope: Construct,
  p: { names: StackNames; cluster: SwarmCluster; courseId: string; image: string; env: string[]; memoryBytes: number; usersNetwork: string; usersNetworkId: string },
): Service {
  const { names, cluster, courseId } = p;
  const service = new Service(scope, 'grader', {
    name: names.grader(courseId),
    labels: stackLabels(names, 'grader'),
    convergeConfig: { delay: '3s', timeout: '5m' },
    taskSpec: {
      containerSpec: {
        image: p.image,
        command: [PATHS.startScript, 'grader'],
        user: '0',
        capDrop: ['ALL'],
        capAdd: [...START_CAPABILITIES_ENGINE],
        env: Object.fromEntries(p.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
        mounts: mountsOf([
          sharedMount(cluster, names, [SHARED_LAYOUT.courses, courseId], `${PATHS.coursesRoot}/${courseId}`),
          sharedMount(cluster, names, [SHARED_LAYOUT.exchange], PATHS.exchangeRoot),
          sharedMount(cluster, names, [SHARED_LAYOUT.uidMap], PATHS.graderUidMapDir, true),
        ]),
      },
      placement: { constraints: [...cluster.serverConstraints] },
      resources: { limits: { memoryBytes: p.memoryBytes } },
      restartPolicy: { condition: 'any', delay: '5s' },
      logDriver: { name: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
    },
    endpointSpec: { mode: cluster.endpointMode },
  });
  settle(service, [{ id: p.usersNetworkId }], { healthcheck: false, resources: true, capAdd: true, args: false, command: true, env: true });
  return service;
}
