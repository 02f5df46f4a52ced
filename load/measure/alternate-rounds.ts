import type { GeneratorClient } from '../generator/generator-client.js';
import type { LoadOutcome } from '../generator/job.js';
import type { PoolFiles, PoolName } from '../setup/token-pools.js';
import { readCacheCounters } from './cache-counters.js';
import type { Scenario, TargetName } from './scenarios.js';
import type { RunningTarget } from './start-targets.js';
import { cpuSecondsOf } from './target-cpu.js';

export interface Schedule {
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
}

export interface Bench {
  readonly generator: GeneratorClient;
  readonly targets: ReadonlyMap<TargetName, RunningTarget>;
  readonly pools: PoolFiles;
  readonly poolSizes: Readonly<Record<PoolName, number>>;
  readonly log: (line: string) => void;
}

export type Outcomes = Map<string, LoadOutcome[]>;

function describe(o: LoadOutcome): string {
  const codes = Object.entries(o.statusCounts)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  const extra = o.errors + o.timeouts > 0 ? ` errors:${o.errors} timeouts:${o.timeouts}` : '';
  const lookups = (o.cacheHits ?? 0) + (o.cacheMisses ?? 0);
  const cache = lookups === 0 ? '' : `  cache hits ${((100 * (o.cacheHits ?? 0)) / lookups).toFixed(0)}%`;
  const gen = `gen cpu ${(o.generatorCpu * 100).toFixed(0)}%`;
  const target =
    o.targetCpuSeconds === undefined || o.requests === 0
      ? ''
      : `  target ${((o.targetCpuSeconds * 1e6) / o.requests).toFixed(0)} µs/req (${((100 * o.targetCpuSeconds) / o.elapsedSeconds).toFixed(0)}% busy)`;
  return `${o.rps.toFixed(0).padStart(7)} req/s  p50 ${o.p50Ms.toFixed(2)} ms  p99 ${o.p99Ms.toFixed(2)} ms${target}${cache}  ${gen}  [${codes}${extra}]${o.error ? ` ${o.error}` : ''}`;
}

async function once(
  bench: Bench,
  s: Scenario,
  seconds: number,
  connections: number,
  rate?: number,
): Promise<LoadOutcome> {
  const target = bench.targets.get(s.target);
  if (target === undefined) throw new Error(`target ${s.target} is not running`);
  const cacheBefore = await readCacheCounters(target.metrics);
  const cpuBefore = cpuSecondsOf(target.pid);
  const outcome = await bench.generator.run({
    url: target.url,
    connections,
    durationSeconds: seconds,
    poolFile: bench.pools[s.pool],
    ...(rate === undefined ? {} : { overallRate: rate }),
  });
  const cpuAfter = cpuSecondsOf(target.pid);
  const cacheAfter = await readCacheCounters(target.metrics);
  return {
    ...outcome,
    ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { targetCpuSeconds: cpuAfter - cpuBefore }),
    ...(cacheBefore === undefined || cacheAfter === undefined
      ? {}
      : {
          cacheHits: cacheAfter.hits - cacheBefore.hits,
          cacheMisses: cacheAfter.misses - cacheBefore.misses,
        }),
  };
}

// A warm-up that never ends on a target that cannot keep up would hang the run.
const MAX_WARMUP_SECONDS = 60;

/**
 * At least `warmupSeconds`, and until the whole pool has been sent twice: a 10,000-token
 * rotation measured before every token reached the cache would be measured half cold, and a
 * token enters provgate's verified-token cache on its second sighting (cache-admission.ts).
 */
export async function warmUp(
  bench: Bench,
  s: Scenario,
  schedule: Schedule,
  rate?: number,
  suffix = '',
): Promise<void> {
  const started = Date.now();
  let sent = 0;
  do {
    const warm = await once(bench, s, schedule.warmupSeconds, schedule.connections, rate);
    sent += warm.requests;
    bench.log(`  warm-up ${(s.name + suffix).padEnd(24)} ${describe(warm)}`);
    // At a fixed rate the throughput phase has already sent every pool through.
  } while (
    rate === undefined &&
    sent < 2 * bench.poolSizes[s.pool] &&
    Date.now() - started < MAX_WARMUP_SECONDS * 1000
  );
}

/**
 * Warms every scenario up, then measures them in alternation, reversing the order on
 * every other round (A B C, C B A, ...) so that neither drift nor position favours one.
 */
export async function measureAlternating(
  bench: Bench,
  scenarios: readonly Scenario[],
  schedule: Schedule,
  rate?: number,
): Promise<Outcomes> {
  const suffix = rate === undefined ? '' : `@${rate}/s`;
  for (const s of scenarios) await warmUp(bench, s, schedule, rate, suffix);
  const outcomes: Outcomes = new Map(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < schedule.rounds; round++) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const s of order) {
      const o = await once(bench, s, schedule.durationSeconds, schedule.connections, rate);
      outcomes.get(s.name)!.push(o);
      bench.log(`  round ${round + 1} ${(s.name + suffix).padEnd(24)} ${describe(o)}`);
    }
  }
  return outcomes;
}
