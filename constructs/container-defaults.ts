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
 * What `jhlti-start` needs on top of `cap_drop ALL` (images/CONTRACT.md), spelt as the engine
 * reports capabilities (CAP_*), or every plan would replace the container.
 */
export const START_CAPABILITIES_ENGINE: readonly string[] = START_CAPABILITIES.map((c) => `CAP_${c}`);

/** The provider's docker_container `memory` is in whole megabytes. */
export function memoryMegabytes(value: string): number {
  return Math.max(6, Math.ceil(memoryBytes(value) / 1024 ** 2));
}
