import type { ContainerConfig } from '@cdktf/provider-docker/lib/container';
import { START_CAPABILITIES } from './contract';
import { memoryBytes } from './config/schema';
import { StackNames, stackLabels } from './naming';

/**
 * Settings every long-running container of the stack shares. The log driver and options are
 * explicit because the provider otherwise reads the daemon's defaults back and shows a
 * perpetual diff; `no-new-privileges` stops setuid escalation in every container.
 */
export function containerDefaults(names: StackNames, role: string): Pick<ContainerConfig, 'restart' | 'mustRun' | 'logDriver' | 'logOpts' | 'labels' | 'securityOpts' | 'destroyGraceSeconds'> {
  return {
    restart: 'unless-stopped',
    mustRun: true,
    logDriver: 'json-file',
    logOpts: { 'max-size': '10m', 'max-file': '3' },
    labels: stackLabels(names, role),
    securityOpts: ['no-new-privileges:true'],
    destroyGraceSeconds: 30,
  };
}

/**
 * CPU weight of the hub and the proxy (Docker's `--cpu-shares`; every other container has the
 * engine's default, 1024). Every launch and every request of every student passes through these
 * two single-threaded processes, while user servers start and run side by side; at the start of
 * class the servers' starts keep both cores busy, and with equal weights the hub and the proxy
 * waited behind them, so every launch did. The weight matters only while the CPUs are contended,
 * and the hub and the proxy use little CPU of their own (BENCHMARKS.md), so this takes nothing from
 * the servers the rest of the time.
 */
export const SERVING_PATH_CPU_SHARES = 4096;

/**
 * What `jhlti-start` needs on top of `cap_drop ALL` (images/CONTRACT.md), spelt as the engine
 * reports capabilities (CAP_*), or every plan would replace the container.
 */
export const START_CAPABILITIES_ENGINE: readonly string[] = START_CAPABILITIES.map((c) => `CAP_${c}`);

/** The provider's docker_container `memory` is in whole megabytes. */
export function memoryMegabytes(value: string): number {
  return Math.max(6, Math.ceil(memoryBytes(value) / 1024 ** 2));
}
