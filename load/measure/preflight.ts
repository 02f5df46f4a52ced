import { readFileSync } from 'node:fs';
import type { PoolFiles } from '../setup/token-pools.js';
import type { Scenario, TargetName } from './scenarios.js';
import type { RunningTarget } from './start-targets.js';

/**
 * One request per scenario before any load: a target that answers the first token wrongly
 * (a config mistake, a missing key) stops the run here with the body it sent, instead of
 * producing a fast and meaningless table.
 */
export async function preflight(
  scenarios: readonly Scenario[],
  targets: ReadonlyMap<TargetName, RunningTarget>,
  pools: PoolFiles,
): Promise<void> {
  for (const s of scenarios) {
    const url = targets.get(s.target)?.url;
    if (url === undefined) throw new Error(`${s.name}: target ${s.target} is not running`);
    const [first] = JSON.parse(readFileSync(pools[s.pool], 'utf8')) as string[];
    const res = await fetch(url, { headers: { authorization: first ?? '' } });
    const body = await res.text();
    const want = s.expect === 'all-401' ? 401 : 200;
    if (res.status !== want) {
      throw new Error(
        `${s.name}: first request answered ${res.status}, expected ${want}: ${body.slice(0, 300)}`,
      );
    }
  }
}
