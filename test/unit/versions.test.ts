import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_LABEL_ARGS, JUPYTERHUB_VERSION, LABELS, PROFILES, PROVIDER_VERSIONS, VERSIONS } from '../../constructs';
import { REPO } from './helpers';

/** `name==version` pins of a requirements file. */
function pins(file: string): Map<string, string> {
  const text = readFileSync(join(REPO, file), 'utf8');
  return new Map([...text.matchAll(/^([A-Za-z0-9_.-]+)==(\S+)/gm)].map((m) => [m[1].toLowerCase(), m[2]]));
}

describe('images/versions.json is the one place versions are pinned', () => {
  test('the constructs read it', () => {
    expect(JUPYTERHUB_VERSION).toBe(VERSIONS.jupyterhub);
    expect(PROVIDER_VERSIONS).toEqual(VERSIONS.providers);
    expect(PROFILES.official.hubBase).toBe(`quay.io/jupyterhub/jupyterhub:${VERSIONS.jupyterhub}`);
    expect(PROFILES.official.proxy).toBe(`quay.io/jupyterhub/configurable-http-proxy:${VERSIONS.configurableHttpProxy}`);
  });

  test('the pinned Python requirements (lock files) agree with it', () => {
    expect(pins('images/hub/requirements.txt').get('jupyterhub')).toBe(VERSIONS.jupyterhub);
    expect(pins('images/notebook/requirements.txt').get('nbgrader')).toBe(VERSIONS.nbgrader);
    expect(pins('test/hub/requirements.txt').get('nbgrader')).toBe(VERSIONS.nbgrader);
  });

  test('no Dockerfile carries a version of its own', () => {
    for (const file of ['images/hub/Dockerfile', 'images/notebook/Dockerfile', 'images/stand-ins/jupyterhub/Dockerfile', 'images/stand-ins/base-notebook/Dockerfile', 'images/stand-ins/configurable-http-proxy/Dockerfile']) {
      const text = readFileSync(join(REPO, file), 'utf8');
      expect({ file, pinned: /\b\d+\.\d+\.\d+\b/.test(text.replace(/^#.*$/gm, '')) }).toEqual({ file, pinned: false });
    }
  });

  test('the package and the hub plugin share one version', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(readFileSync(join(REPO, 'images/hub/pyproject.toml'), 'utf8')).toContain(`version = "${pkg.version}"`);
    expect(readFileSync(join(REPO, 'images/hub/jupyterhub_lti_stack/__init__.py'), 'utf8')).toContain(`__version__ = "${pkg.version}"`);
  });
});

describe('image labels come from the Dockerfiles (the classic builder drops API labels)', () => {
  test.each([
    ['images/hub/Dockerfile', ['environment', 'identity']],
    ['images/notebook/Dockerfile', ['environment', 'course', 'identity']],
  ] as const)('%s labels its image with the contract label names from the contract build args', (file, keys) => {
    const text = readFileSync(join(REPO, file), 'utf8');
    for (const key of keys) {
      expect(text).toContain(`ARG ${IMAGE_LABEL_ARGS[key]}\n`);
      expect(text).toContain(`${LABELS[key]}="\${${IMAGE_LABEL_ARGS[key]}}"`);
    }
  });
});
