/**
 * Pinned default images. `official` are the upstream images a real deployment pulls;
 * `local` are the stand-ins that `bin/setup` builds from a debootstrapped Debian with the
 * same contract, for machines that reach no container registry (CI, air-gapped sites).
 */
import { VERSIONS } from '../versions';
import type { CourseConfig } from './schema';

/** The JupyterHub version the hub image and the notebook images' singleuser server share. */
export const JUPYTERHUB_VERSION = VERSIONS.jupyterhub;
export const CHP_VERSION = VERSIONS.configurableHttpProxy;

export type ImageProfile = 'official' | 'local';

interface ProfileImages {
  readonly hubBase: string;
  readonly proxy: string;
  /** Notebook base per kernel set; undefined when the profile has no such image. */
  readonly notebook: Readonly<Record<'python' | 'r' | 'julia' | 'datascience', string | undefined>>;
}

export const PROFILES: Readonly<Record<ImageProfile, ProfileImages>> = {
  official: {
    hubBase: `quay.io/jupyterhub/jupyterhub:${JUPYTERHUB_VERSION}`,
    proxy: `quay.io/jupyterhub/configurable-http-proxy:${CHP_VERSION}`,
    notebook: {
      python: `quay.io/jupyter/scipy-notebook:hub-${JUPYTERHUB_VERSION}`,
      r: `quay.io/jupyter/r-notebook:hub-${JUPYTERHUB_VERSION}`,
      julia: `quay.io/jupyter/julia-notebook:hub-${JUPYTERHUB_VERSION}`,
      datascience: `quay.io/jupyter/datascience-notebook:hub-${JUPYTERHUB_VERSION}`,
    },
  },
  local: {
    hubBase: `localhost/jhlti-stand-in/jupyterhub:${JUPYTERHUB_VERSION}`,
    proxy: `localhost/jhlti-stand-in/configurable-http-proxy:${CHP_VERSION}`,
    notebook: {
      python: `localhost/jhlti-stand-in/base-notebook:hub-${JUPYTERHUB_VERSION}`,
      // R and IRkernel from Debian (images/stand-ins/r-notebook); Julia has no Debian package.
      r: `localhost/jhlti-stand-in/r-notebook:hub-${JUPYTERHUB_VERSION}`,
      julia: undefined,
      datascience: undefined,
    },
  },
};

/** Where the official images come from unless a mirror is named (JHLTI_IMAGE_REGISTRY). */
export const OFFICIAL_REGISTRY = 'quay.io';

/**
 * A registry reference as an image name starts: host[:port] and optional path segments, in
 * lower case, without a scheme (e.g. "registry.example.edu:5000/quay" or "127.0.0.1:5000").
 */
export const REGISTRY_PATTERN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/**
 * The default images of a profile, the official ones from `registry` (a mirror or pull-through
 * cache of quay.io holding the same repositories) when given. The local stand-ins never move.
 */
export function profileImages(profile: ImageProfile, registry?: string): ProfileImages {
  const images = PROFILES[profile];
  if (profile !== 'official' || registry === undefined || registry === OFFICIAL_REGISTRY) return images;
  const move = (ref: string): string => `${registry}${ref.slice(OFFICIAL_REGISTRY.length)}`;
  const notebook = Object.fromEntries(Object.entries(images.notebook).map(([k, v]) => [k, v === undefined ? undefined : move(v)]));
  return { hubBase: move(images.hubBase), proxy: move(images.proxy), notebook: notebook as ProfileImages['notebook'] };
}

/** Which docker-stacks flavour carries a course's kernels. */
export function notebookFlavour(kernels: CourseConfig['kernels']): keyof ProfileImages['notebook'] {
  const r = kernels.includes('r');
  const julia = kernels.includes('julia');
  if (r && julia) return 'datascience';
  if (r) return 'r';
  if (julia) return 'julia';
  return 'python';
}

/** Reads JHLTI_BASE_IMAGES; anything but "official"/"local" is a config error upstream. */
export function profileFromEnv(value: string | undefined): ImageProfile | undefined {
  if (value === undefined || value === '' || value === 'official') return 'official';
  if (value === 'local') return 'local';
  return undefined;
}
