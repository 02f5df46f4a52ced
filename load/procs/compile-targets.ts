import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './build-dist.js';

const TARGETS = ['bare-proxy.ts', 'bare-reply-from.ts', 'lean-proxy.ts', 'mail-upstream.ts'];

export interface CompiledTargets {
  /** Folder holding targets/*.js, or undefined when they run through tsx. */
  readonly dir: string | undefined;
  readonly note: string;
}

/**
 * The bare proxy is the baseline provgate is held to, so it runs the way provgate runs:
 * compiled by tsc, started by plain node, with no loader hooks in the process.
 */
export function compileTargets(outDir: string): CompiledTargets {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const files = TARGETS.map((f) => join(ROOT, 'load', 'targets', f));
  const args = [tsc, '--outDir', outDir, '--rootDir', join(ROOT, 'load'), '--module', 'nodenext'];
  args.push('--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node');
  const result = spawnSync(process.execPath, [...args, ...files], { cwd: ROOT, encoding: 'utf8' });
  if (result.status === 0 && existsSync(join(outDir, 'targets', 'bare-proxy.js'))) {
    return { dir: join(outDir, 'targets'), note: 'compiled by tsc, run by plain node' };
  }
  const why = (result.stdout + result.stderr).trim().split('\n')[0] ?? '';
  return { dir: undefined, note: `run through tsx (tsc failed: ${why})` };
}
