import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { BuildContext, BuiltImage } from './built-image';
import { CONTAINER_ENV, PATHS, PORTS, URL_PATHS } from './contract';
import { START_CAPABILITIES_ENGINE, containerDefaults, memoryMegabytes } from './container-defaults';
import { DataVolume, IDataVolume } from './data-volume';
import { StackNames, courseServerName } from './naming';
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
  readonly exchange: IDataVolume;
  /** The hub's username -> uid map, mounted read-only (strict collect checks submission owners). */
  readonly uidMap: IDataVolume;
  /** The environment's server limits, for courses that set none. */
  readonly limits: { readonly memory: string; readonly cpus: number; readonly idleCullSeconds: number };
  /** Protect the course volume from destroy. */
  readonly protectData: boolean;
  /** iframe mode: the LMS origins allowed to frame the grader service; empty: framing refused. */
  readonly frameAncestors: readonly string[];
  /** The environment's public URL (the grader's Course List links to its formgrader there). */
  readonly publicUrl: string;
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
  readonly allowedImageResources: Image[];
  readonly volume: DataVolume;
  readonly grader: Container;

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

    this.notebookImage = new BuiltImage(this, 'notebook-image', {
      context: props.environment.notebookContext,
      buildArgs: { BASE_IMAGE: props.notebookBase },
      name: (hash) => names.notebookImage(courseId, hash),
      owner: { environment: names.environment, course: courseId },
    });
    this.allowedImageResources = props.allowedImages.map((ref, i) => new Image(this, `allowed-image-${i}`, { name: ref, keepLocally: true }));
    this.volume = new DataVolume(this, 'volume', { names, name: names.courseVolume(courseId), role: 'course', protect: props.environment.protectData });

    const prefix = `/services/${courseId}/`;
    const memory = memoryMegabytes(this.memory);
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
      env: [
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
      ],
      networksAdvanced: [{ name: props.environment.networks.usersName }],
      volumes: [
        { volumeName: this.volume.name, containerPath: `${PATHS.coursesRoot}/${courseId}` },
        { volumeName: props.environment.exchange.name, containerPath: PATHS.exchangeRoot },
        { volumeName: props.environment.uidMap.name, containerPath: PATHS.graderUidMapDir, readOnly: true },
      ],
    });
  }

  get imageName(): string {
    return this.notebookImage.name;
  }

  get spawnDependencies(): ITerraformDependable[] {
    return [this.notebookImage.image, ...this.allowedImageResources];
  }
}
