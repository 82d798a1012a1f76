import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Construct } from 'constructs';
import { BuildContext, BuiltImage } from './built-image';
import type { ResolvedCourse } from './config/rules';
import { containerDefaults, memoryMegabytes } from './container-defaults';
import { DataVolume } from './data-volume';
import { PORTS, StackNames } from './naming';
import { StackNetworks } from './network';

export interface CourseProps {
  readonly names: StackNames;
  readonly course: ResolvedCourse;
  readonly networks: StackNetworks;
  /** The environment's notebook build context (images/notebook), shared by its courses. */
  readonly notebookContext: BuildContext;
  readonly exchange: DataVolume;
  /** The hub's username -> uid map, mounted read-only (strict collect checks submission owners). */
  readonly uidMap: DataVolume;
  /** API token of this course's grader service (sensitive). */
  readonly serviceToken: string;
  /** Memory limit of the grader container, e.g. "2G". */
  readonly memory: string;
  /** @default true */
  readonly protectData?: boolean;
}

/**
 * One course: its notebook image (nbgrader + kernels, so a spawn never pulls), the images a
 * launch may choose from its allow-list, its course volume, and its grader service (formgrader
 * as a JupyterHub service named after the course, reachable only by its instructors).
 */
export class Course extends Construct {
  readonly notebookImage: BuiltImage;
  readonly allowedImages: Image[];
  readonly volume: DataVolume;
  readonly grader: Container;

  constructor(scope: Construct, id: string, props: CourseProps) {
    super(scope, id);
    const { names, course } = props;
    this.notebookImage = new BuiltImage(this, 'notebook-image', {
      context: props.notebookContext,
      buildArgs: { BASE_IMAGE: course.notebookBase },
      name: (hash) => names.notebookImage(course.id, hash),
      labels: { 'org.jupyterhub-lti-stack.environment': names.environment, 'org.jupyterhub-lti-stack.course': course.id },
    });
    this.allowedImages = course.allowedImages.map((ref, i) => new Image(this, `allowed-image-${i}`, { name: ref, keepLocally: true }));
    this.volume = new DataVolume(this, 'volume', { names, name: names.courseVolume(course.id), role: 'course', protect: props.protectData });

    const prefix = `/services/${course.id}/`;
    this.grader = new Container(this, 'grader', {
      ...containerDefaults(names, 'grader'),
      name: names.grader(course.id),
      image: this.notebookImage.image.imageId,
      command: ['/usr/local/bin/jhlti-start', 'grader'],
      // Starts as root to prepare the course directory, then drops to the grader uid with no
      // capabilities left (images/notebook/jhlti-start).
      // Spelt as the engine reports them (CAP_*), or every plan would replace the container.
      capabilities: { drop: ['ALL'], add: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID'] },
      // memory_swap equal to memory: no swap, and no perpetual diff from the provider.
      memory: memoryMegabytes(props.memory),
      memorySwap: memoryMegabytes(props.memory),
      env: [
        `NB_UID=${course.graderUid}`,
        // The grader-only nbgrader config (strict collect), also for `docker exec` shells.
        'JUPYTER_CONFIG_PATH=/etc/jupyter/jhlti-grader',
        `JHLTI_COURSE_ID=${course.id}`,
        `JUPYTERHUB_SERVICE_NAME=${course.id}`,
        `JUPYTERHUB_API_URL=http://${names.hub}:${PORTS.hub}/hub/api`,
        `JUPYTERHUB_API_TOKEN=${props.serviceToken}`,
        `JUPYTERHUB_CLIENT_ID=service-${course.id}`,
        `JUPYTERHUB_SERVICE_PREFIX=${prefix}`,
        'JUPYTERHUB_BASE_URL=/',
        `JUPYTERHUB_OAUTH_CALLBACK_URL=${prefix}oauth_callback`,
        `JUPYTERHUB_SERVICE_URL=http://0.0.0.0:${PORTS.notebook}${prefix}`,
      ],
      networksAdvanced: [{ name: props.networks.usersName }],
      volumes: [
        { volumeName: this.volume.name, containerPath: `/srv/nbgrader/courses/${course.id}` },
        { volumeName: props.exchange.name, containerPath: '/srv/nbgrader/exchange' },
        { volumeName: props.uidMap.name, containerPath: '/srv/nbgrader/uids', readOnly: true },
      ],
    });
  }
}
