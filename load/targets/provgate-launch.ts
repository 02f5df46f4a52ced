import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { buildDist, ROOT } from '../procs/build-dist.js';

const LAUNCHER = new URL('./provgate-target.ts', import.meta.url).pathname;
const CLI = `${ROOT}dist/src/cli.js`;

export interface ProvgateLaunch {
  /** 'cli': dist/src/cli.js start; 'launcher-dist'/'launcher-src': load/targets/provgate-target.ts. */
  readonly mode: 'cli' | 'launcher-dist' | 'launcher-src';
  readonly note: string;
  command(configPath: string, nodeFlags?: readonly string[]): { command: string; args: string[] };
}

/**
 * Compiles src/ (a deployment runs the compiled output) and picks how to start a gateway:
 * the CLI when it exists, else a launcher calling startGateway. Both exit cleanly on SIGTERM,
 * which is when `node --cpu-prof` writes its profile.
 */
export function prepareProvgate(build: boolean): ProvgateLaunch {
  const dist = buildDist(build);
  const note = dist.note;
  const compiled = dist.usable;
  const useCli = compiled && existsSync(CLI) && cliHasStart();
  const launcherImpl = compiled ? 'dist' : 'src';
  return {
    mode: useCli ? 'cli' : compiled ? 'launcher-dist' : 'launcher-src',
    note: useCli
      ? `${note}; started as node dist/src/cli.js start --config <generated>`
      : `${note}; started by load/targets/provgate-target.ts (startGateway from ${launcherImpl})`,
    command(configPath, nodeFlags = []) {
      if (useCli) {
        return { command: process.execPath, args: [...nodeFlags, CLI, 'start', '--config', configPath] };
      }
      return {
        command: process.execPath,
        args: [...nodeFlags, '--import', 'tsx', LAUNCHER, '--impl', launcherImpl, '--config', configPath],
      };
    },
  };
}

function cliHasStart(): boolean {
  const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', timeout: 10_000 });
  return /\bstart\b/.test(`${help.stdout}${help.stderr}`);
}
