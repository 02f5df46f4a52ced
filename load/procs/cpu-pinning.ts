import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * Which core each side gets. On one machine a load generator and its target fight for the
 * same cores unless pinned apart; with fewer than two cores, or without taskset, nothing is
 * pinned and the report says so.
 */
export interface CpuPlan {
  readonly pinned: boolean;
  readonly cores: number;
  /** Core for the load generator, the backend upstream and this orchestrator. */
  readonly driverCore: number | undefined;
  /** Core for every measured target. */
  readonly targetCore: number | undefined;
  readonly note: string;
}

export function planCpus(): CpuPlan {
  const cores = availableParallelism();
  const taskset = spawnSync('taskset', ['--version'], { encoding: 'utf8' });
  if (taskset.error !== undefined || taskset.status !== 0) {
    return {
      pinned: false,
      cores,
      driverCore: undefined,
      targetCore: undefined,
      note: 'taskset not found: nothing pinned',
    };
  }
  if (cores < 2) {
    return {
      pinned: false,
      cores,
      driverCore: undefined,
      targetCore: undefined,
      note: 'one core: nothing pinned',
    };
  }
  return {
    pinned: true,
    cores,
    driverCore: 0,
    targetCore: 1,
    note: 'targets on core 1; autocannon, the backend upstream and the orchestrator on core 0',
  };
}

/** The command line that runs `command` on `core` (or unpinned). */
export function pinnedCommand(
  core: number | undefined,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  if (core === undefined) return { command, args: [...args] };
  return { command: 'taskset', args: ['-c', String(core), command, ...args] };
}

/** Moves this process to `core`, so that its own timers never steal the targets' core. */
export function pinSelf(core: number | undefined): void {
  if (core === undefined) return;
  spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}
