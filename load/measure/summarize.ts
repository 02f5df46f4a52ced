import type { LoadOutcome } from '../generator/job.js';
import type { Outcomes } from './alternate-rounds.js';
import { HAPROXY_JWT, LEAN, type Scenario } from './scenarios.js';
import { median, medianRatio } from './stats.js';
import { checkStatuses, type StatusCheck } from './status-check.js';

export interface ScenarioSummary {
  readonly name: string;
  readonly description: string;
  readonly rounds: number;
  readonly rps: number;
  /** Requests per second answered 200 (differs from rps only in mixed and invalid runs). */
  readonly okRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly vsLean: number | null;
  readonly vsHaproxyJwt: number | null;
  /** Target CPU per request (all its threads), and the same ratios computed from it: capacity per core. */
  readonly cpuUsPerRequest: number;
  readonly cpuVsLean: number | null;
  readonly cpuVsHaproxyJwt: number | null;
  /** Share of a core the target was busy; well under 1.0 at saturation means something else had the core. */
  readonly targetBusy: number;
  readonly status: StatusCheck;
  /** Median CPU share of a core the generator used: near 1.0 the generator, not the target, was the limit. */
  readonly generatorCpu: number;
  /** Share of verified-token cache lookups that hit (provgate, where its /metrics answered). */
  readonly cacheHitRate: number | null;
}

const rpsOf = (list: readonly LoadOutcome[]) => list.map((o) => o.rps);
/** Requests per CPU-second of the target: what one core would serve if it had it all. */
export const capacityOf = (list: readonly LoadOutcome[]): number[] =>
  list.map((o) => (o.targetCpuSeconds ? o.requests / o.targetCpuSeconds : Number.NaN));
export const okRpsOf = (list: readonly LoadOutcome[]): number[] =>
  list.map((o) => (o.elapsedSeconds > 0 ? (o.statusCounts['200'] ?? 0) / o.elapsedSeconds : 0));

function hitRate(list: readonly LoadOutcome[]): number | null {
  const hits = list.reduce((a, o) => a + (o.cacheHits ?? 0), 0);
  const lookups = hits + list.reduce((a, o) => a + (o.cacheMisses ?? 0), 0);
  return lookups === 0 ? null : hits / lookups;
}

/** Medians over rounds, and ratios as medians of per-round ratios. */
export function summarize(scenarios: readonly Scenario[], outcomes: Outcomes): ScenarioSummary[] {
  const lean = outcomes.get(LEAN);
  const haproxy = outcomes.get(HAPROXY_JWT);
  return scenarios
    .filter((s) => outcomes.has(s.name))
    .map((s) => {
      const list = outcomes.get(s.name)!;
      return {
        name: s.name,
        description: s.description,
        rounds: list.length,
        rps: median(rpsOf(list)),
        okRps: median(okRpsOf(list)),
        p50Ms: median(list.map((o) => o.p50Ms)),
        p99Ms: median(list.map((o) => o.p99Ms)),
        vsLean: lean === undefined ? null : medianRatio(rpsOf(list), rpsOf(lean)),
        vsHaproxyJwt: haproxy === undefined ? null : medianRatio(rpsOf(list), rpsOf(haproxy)),
        cpuUsPerRequest: 1e6 / median(capacityOf(list)),
        cpuVsLean: lean === undefined ? null : medianRatio(capacityOf(list), capacityOf(lean)),
        cpuVsHaproxyJwt: haproxy === undefined ? null : medianRatio(capacityOf(list), capacityOf(haproxy)),
        targetBusy: median(list.map((o) => (o.targetCpuSeconds ?? Number.NaN) / o.elapsedSeconds)),
        status: checkStatuses(s.expect, list),
        generatorCpu: median(list.map((o) => o.generatorCpu)),
        cacheHitRate: hitRate(list),
      };
    });
}
