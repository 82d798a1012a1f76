import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Image } from '@cdktf/provider-docker/lib/image';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { IMAGE_LABEL_ARGS } from './contract';

/**
 * The package's root directory: where images/ and bin/ are, from the TypeScript sources
 * (constructs/) as from the built package (lib/constructs/).
 */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

/** Directory holding the real files that go into images (Dockerfiles, hub config, plugin). */
export const IMAGES_DIR = join(PACKAGE_ROOT, 'images');

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'images', 'hub', 'Dockerfile')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`jupyterhub-lti-stack: no images/ directory above ${start}; the package is incomplete`);
  }
}

const IGNORED = new Set(['__pycache__', '.pytest_cache', '.mypy_cache', 'node_modules']);

export interface BuildContextProps {
  /** Source directory of the build context, e.g. images/hub. */
  readonly source: string;
  /**
   * PEM CA bundle made available to pip/npm inside the build as `ca-bundle.crt`.
   * @default - an empty ca-bundle.crt: the build uses the base image's trust store
   */
  readonly caBundle?: string;
}

/**
 * A Docker build context as a cdktf asset: the source directory plus `ca-bundle.crt`, staged
 * so the asset (and its content hash) depends only on file contents.
 */
export class BuildContext extends Construct {
  /** sha256 over every file's relative path and content. */
  readonly contentHash: string;
  /** Path of the context as Terraform sees it (relative to the stack directory). */
  readonly path: string;

  constructor(scope: Construct, id: string, props: BuildContextProps) {
    super(scope, id);
    const files = listFiles(props.source).map((rel) => ({ rel, data: readFileSync(join(props.source, rel)) }));
    files.push({ rel: 'ca-bundle.crt', data: props.caBundle === undefined ? Buffer.alloc(0) : readFileSync(props.caBundle) });
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

    const hash = createHash('sha256');
    for (const f of files) hash.update(`${f.rel}\0${f.data.length}\0`).update(f.data);
    this.contentHash = hash.digest('hex');

    const staged = join(tmpdir(), 'jupyterhub-lti-stack-contexts', this.contentHash);
    if (!existsSync(staged)) {
      const partial = `${staged}.${process.pid}.partial`;
      rmSync(partial, { recursive: true, force: true });
      for (const f of files) {
        mkdirSync(join(partial, f.rel, '..'), { recursive: true });
        writeFileSync(join(partial, f.rel), f.data);
      }
      try {
        renameSync(partial, staged);
      } catch {
        rmSync(partial, { recursive: true, force: true }); // another synth staged it first
      }
    }
    const asset = new TerraformAsset(this, 'asset', { path: staged, type: AssetType.DIRECTORY, assetHash: this.contentHash.slice(0, 16) });
    this.path = asset.path;
  }
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (IGNORED.has(name) || name.endsWith('.pyc')) return [];
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, base) : [relative(base, full)];
  });
}

export interface BuiltImageProps {
  readonly context: BuildContext;
  /** Build arguments; part of the image's identity. */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** Image name; receives the first 12 hex digits of the identity hash as its tag. */
  readonly name: (hash: string) => string;
  /**
   * Who the image belongs to, written into its labels by its Dockerfile (IMAGE_LABEL_ARGS). This
   * also makes its id its own: two images built alike (courses on the same base) would otherwise
   * share one id, and a destroy that removes both in parallel fails on the second removal.
   */
  readonly owner: { readonly environment: string; readonly course?: string };
}

/**
 * A docker_image built from a BuildContext. The provider never hashes the context, so the
 * hash of context + build args goes into both the tag and `triggers`: changing a file rebuilds
 * the image, and nothing else does.
 */
export class BuiltImage extends Construct {
  readonly image: Image;
  /** Full name with tag, e.g. jhlti/demo-hub:0123456789ab. */
  readonly name: string;
  readonly identityHash: string;

  constructor(scope: Construct, id: string, props: BuiltImageProps) {
    super(scope, id);
    const owned: Record<string, string> = { ...props.buildArgs, [IMAGE_LABEL_ARGS.environment]: props.owner.environment };
    if (props.owner.course !== undefined) owned[IMAGE_LABEL_ARGS.course] = props.owner.course;
    const args = Object.keys(owned).sort().map((k) => `${k}=${owned[k]}`);
    this.identityHash = createHash('sha256').update(props.context.contentHash).update('\0').update(args.join('\0')).digest('hex');
    this.name = props.name(this.identityHash);
    this.image = new Image(this, 'image', {
      name: this.name,
      keepLocally: false,
      triggers: { context_sha256: props.context.contentHash, identity_sha256: this.identityHash },
      buildAttribute: {
        context: props.context.path,
        dockerfile: 'Dockerfile',
        buildArgs: { ...owned, [IMAGE_LABEL_ARGS.identity]: this.identityHash },
        remove: true,
        forceRemove: true,
      },
    });
    // docker provider 4.x prefers buildx, which Debian's engine lacks; the classic builder also
    // uses a local FROM image without pulling. (Not in the 3.6.2 bindings, hence the override.)
    this.image.addOverride('build.use_legacy_builder', true);
  }
}
