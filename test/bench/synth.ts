/**
 * Synth benchmark: in-process synthesis time and peak memory for 1, 10, 100 and 1000 courses,
 * next to a stack of bare provider resources of the same types and count (no config
 * validation, no constructs). Each measurement runs in a fresh child process (peak RSS is per
 * process); the median of RUNS runs is printed.
 *
 *   npm run bench:synth            # RUNS=3 by default; RUNS=5 npm run bench:synth
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { Bytes } from '@cdktf/provider-random/lib/bytes';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { App, TerraformStack } from 'cdktf';
import { addEnvironments, resolveConfig } from '../../constructs';

const SIZES = [1, 10, 100, 1000];
const RUNS = Number(process.env.RUNS ?? 3);

function courses(n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: `course${i}`, title: `Course ${i}`, contexts: [`ctx-${i}`] }));
}

/** Resource counts per type of our stack for n courses (what the bare stack must match). */
function ourCounts(n: number): Record<string, number> {
  return {
    docker_network: 2,
    docker_volume: 2 + n,
    docker_image: 2 + n,
    docker_container: 2 + n,
    random_bytes: 6 + n,
    tls: 2,
  };
}

function runOurs(n: number, outdir: string): void {
  const config = resolveConfig({ environments: [{ name: 'bench', port: 8443, courses: courses(n) }] }, 'bench', { baseImages: 'official' });
  const app = new App({ outdir });
  addEnvironments(app, config, { outdir });
  app.synth();
}

function runBare(n: number, outdir: string): void {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'bench');
  new DockerProvider(stack, 'docker', {});
  new RandomProvider(stack, 'random', {});
  const c = ourCounts(n);
  for (let i = 0; i < c.docker_network; i++) new Network(stack, `net${i}`, { name: `net${i}` });
  for (let i = 0; i < c.docker_volume; i++) new Volume(stack, `vol${i}`, { name: `vol${i}` });
  for (let i = 0; i < c.docker_image; i++) new Image(stack, `img${i}`, { name: `img${i}:1`, buildAttribute: { context: '.' } });
  for (let i = 0; i < c.docker_container; i++) new Container(stack, `ctr${i}`, { name: `ctr${i}`, image: 'img:1', env: [`A=${i}`] });
  for (let i = 0; i < c.random_bytes + c.tls; i++) new Bytes(stack, `rnd${i}`, { length: 32 });
  app.synth();
}

function child(kind: string, n: number): void {
  const outdir = mkdtempSync(join(tmpdir(), 'jhlti-bench-'));
  const start = process.hrtime.bigint();
  (kind === 'ours' ? runOurs : runBare)(n, outdir);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  rmSync(outdir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

function measure(kind: string, n: number): { ms: number; maxRssMb: number } {
  const samples = Array.from({ length: RUNS }, () =>
    JSON.parse(execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, 'child', kind, String(n)], { encoding: 'utf8' })) as { ms: number; maxRssMb: number },
  );
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(samples.map((s) => s.ms)), maxRssMb: median(samples.map((s) => s.maxRssMb)) };
}

function main(): void {
  const target: Record<number, number> = { 100: 2, 1000: 3 };
  console.log(`synth benchmark: median of ${RUNS} runs, each in a fresh process (node ${process.version})`);
  console.log('courses | resources | ours ms | bare ms | ratio | target | ours peak MB | bare peak MB');
  console.log('---:|---:|---:|---:|---:|---:|---:|---:');
  for (const n of SIZES) {
    const ours = measure('ours', n);
    const bare = measure('bare', n);
    const resources = Object.values(ourCounts(n)).reduce((a, b) => a + b, 0);
    const ratio = ours.ms / bare.ms;
    const goal = target[n] ? `<= ${target[n]}x ${ratio <= target[n] ? 'met' : 'MISSED'}` : '-';
    console.log(`${n} | ${resources} | ${ours.ms.toFixed(0)} | ${bare.ms.toFixed(0)} | ${ratio.toFixed(2)} | ${goal} | ${ours.maxRssMb.toFixed(0)} | ${bare.maxRssMb.toFixed(0)}`);
  }
}

if (process.argv[2] === 'child') child(process.argv[3], Number(process.argv[4]));
else main();
