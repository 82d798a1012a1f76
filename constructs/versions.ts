/**
 * The project's pinned versions, from images/versions.json (the one file that holds them; the
 * setup scripts and the test harnesses read the same file).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGES_DIR } from './built-image';

export interface Versions {
  readonly jupyterhub: string;
  readonly configurableHttpProxy: string;
  readonly jupyterlab: string;
  readonly nbgrader: string;
  readonly node: string;
  readonly npm: string;
  readonly opentofu: string;
  readonly providers: { readonly docker: string; readonly tls: string; readonly random: string };
}

export const VERSIONS_FILE = join(IMAGES_DIR, 'versions.json');
export const VERSIONS: Versions = JSON.parse(readFileSync(VERSIONS_FILE, 'utf8')) as Versions;
