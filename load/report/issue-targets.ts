import type { Outcomes } from '../measure/alternate-rounds.js';
import { HAPROXY_JWT, LEAN } from '../measure/scenarios.js';
import { median, medianRatio } from '../measure/stats.js';
import { capacityOf } from '../measure/summarize.js';

export interface TargetResult {
  readonly goal: string;
  readonly measured: number | null;
  /** The same ratio from CPU per request (capacity per core): steadier on a shared machine. */
  readonly measuredCpu: number | null;
  readonly threshold: number;
  /** 'min': measured must be at least threshold; 'max': at most. */
  readonly kind: 'min' | 'max';
  readonly unit: 'ratio' | 'ms';
  readonly met: boolean | null;
  /** The provgate scenario to profile when the target is missed. */
  readonly profileScenario: string;
}

const rps = (outcomes: Outcomes, name: string): number[] | undefined => outcomes.get(name)?.map((o) => o.rps);

function ratio(outcomes: Outcomes, a: string, b: string): number | null {
  const x = rps(outcomes, a);
  const y = rps(outcomes, b);
  return x === undefined || y === undefined ? null : medianRatio(x, y);
}

function cpuRatio(outcomes: Outcomes, a: string, b: string, okOnly = false): number | null {
  const x = outcomes.get(a);
  const y = outcomes.get(b);
  if (x === undefined || y === undefined) return null;
  const ok = okOnly
    ? x.map((o) => (o.targetCpuSeconds ? (o.statusCounts['200'] ?? 0) / o.targetCpuSeconds : Number.NaN))
    : capacityOf(x);
  const r = medianRatio(ok, capacityOf(y));
  return Number.isFinite(r) ? r : null;
}

function result(
  goal: string,
  [measured, measuredCpu]: readonly [number | null, number | null],
  threshold: number,
  kind: 'min' | 'max',
  unit: 'ratio' | 'ms',
  profileScenario: string,
): TargetResult {
  const met =
    measured === null || !Number.isFinite(measured)
      ? null
      : kind === 'min'
        ? measured >= threshold
        : measured <= threshold;
  return { goal, measured, measuredCpu, threshold, kind, unit, met, profileScenario };
}

function both(outcomes: Outcomes, a: string, b: string): [number | null, number | null] {
  return [ratio(outcomes, a, b), cpuRatio(outcomes, a, b)];
}

/**
 * The targets of issue 11 that this run can measure: parity with HAProxy's native JWT check on
 * one core, warm and cold; the checks' cost against the gateway's own proxy leg without auth;
 * refusing never dearer than accepting; p99 at half load. (Memory: npm run soak:memory.)
 */
export function issueTargets(outcomes: Outcomes, halfLoad: Outcomes | undefined): TargetResult[] {
  const halfLean = halfLoad?.get(LEAN);
  const halfGate = halfLoad?.get('provgate-10k');
  return [
    result(
      'provgate-10k / haproxy-jwt-10k ≥ 1.0 (moonshot 1.3)',
      both(outcomes, 'provgate-10k', HAPROXY_JWT),
      1.0,
      'min',
      'ratio',
      'provgate-10k',
    ),
    result(
      'provgate-nocache / haproxy-jwt-10k ≥ 0.8 (moonshot 1.0)',
      both(outcomes, 'provgate-nocache', HAPROXY_JWT),
      0.8,
      'min',
      'ratio',
      'provgate-nocache',
    ),
    result(
      'provgate-10k / lean-proxy ≥ 0.9',
      both(outcomes, 'provgate-10k', LEAN),
      0.9,
      'min',
      'ratio',
      'provgate-10k',
    ),
    result(
      'provgate-badsig / provgate-10k ≥ 1.0 (refusing never dearer than accepting)',
      both(outcomes, 'provgate-badsig', 'provgate-10k'),
      1.0,
      'min',
      'ratio',
      'provgate-badsig',
    ),
    result(
      'p99 at half load: provgate-10k − lean-proxy ≤ 2 ms',
      [
        halfLean === undefined || halfGate === undefined
          ? null
          : median(halfGate.map((o) => o.p99Ms)) - median(halfLean.map((o) => o.p99Ms)),
        null,
      ],
      2,
      'max',
      'ms',
      'provgate-10k',
    ),
  ];
}
