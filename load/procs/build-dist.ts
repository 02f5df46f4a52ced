import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * `npm run build` (src/ to dist/src/): measurements run the compiled output, as a deployment
 * does. tsx is not a stand-in: its esbuild transform keeps function names by wrapping every
 * closure in a `__name()` call, a per-call cost that tsc's output does not have.
 * Returns whether dist/ can be used, and a note that says how it was made.
 */
export function buildDist(build: boolean): { readonly usable: boolean; readonly note: string } {
  let note = 'dist/ as found (--no-build)';
  if (build) {
    const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    // tsc still emits on type errors: the output runs, but the report must say it was not clean.
    note =
      result.status === 0
        ? 'compiled with npm run build'
        : `npm run build reported errors (output emitted anyway): ${(result.stdout + result.stderr).trim().split('\n')[0] ?? ''}`;
  }
  return { usable: existsSync(`${ROOT}dist/src/server.js`), note };
}
