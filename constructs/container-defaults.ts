import type { ContainerConfig } from '@cdktf/provider-docker/lib/container';
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

/** "2G" -> bytes. The schema has already checked the shape. */
export function memoryBytes(value: string): number {
  const units: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  return Math.round(parseFloat(value.slice(0, -1)) * units[value.slice(-1)]);
}

/** The provider's docker_container `memory` is in whole megabytes. */
export function memoryMegabytes(value: string): number {
  return Math.max(6, Math.ceil(memoryBytes(value) / 1024 ** 2));
}
