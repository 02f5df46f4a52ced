import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ROOT } from '../procs/build-dist.js';

/**
 * Results are committed, and `npm run lint` checks load/ (Markdown tables and JSON included):
 * written files are passed through the project's own formatter so that a run never leaves
 * the lint red. Without biome the files stay as written.
 */
export function formatWithBiome(files: readonly string[]): void {
  const biome = `${ROOT}node_modules/.bin/biome`;
  if (!existsSync(biome)) return;
  spawnSync(biome, ['check', '--write', ...files], { cwd: ROOT, stdio: 'ignore' });
}
