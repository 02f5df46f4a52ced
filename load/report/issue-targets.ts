import type { Outcomes } from '../measure/alternate-rounds.js';
import { BARE, BARE_REPLY_FROM, HAPROXY_JWT } from '../measure/scenarios.js';
import { median, medianRatio } from '../measure/stats.js';
import { capacityOf, okRpsOf } from '../measure/summarize.js';

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

/** The throughput and latency targets of issue 5 that this run can measure. */
export function issueTargets(outcomes: Outcomes, halfLoad: Outcomes | undefined): TargetResult[] {
  const mixedOk = outcomes.get('provgate-mixed');
  const allValid = rps(outcomes, 'provgate-10k');
  const halfBare = halfLoad?.get(BARE);
  const halfGate = halfLoad?.get('provgate-10k');
  return [
    result(
      'provgate-10k / haproxy-jwt-10k ≥ 1.0',
      both(outcomes, 'provgate-10k', HAPROXY_JWT),
      1.0,
      'min',
      'ratio',
      'provgate-10k',
    ),
    result(
      'provgate-cold / haproxy-jwt-10k ≥ 0.8',
      both(outcomes, 'provgate-cold', HAPROXY_JWT),
      0.8,
      'min',
      'ratio',
      'provgate-cold',
    ),
    result(
      'provgate-1 / bare-proxy ≥ 0.95',
      both(outcomes, 'provgate-1', BARE),
      0.95,
      'min',
      'ratio',
      'provgate-1',
    ),
    result(
      'provgate-10k / bare-proxy ≥ 0.85',
      both(outcomes, 'provgate-10k', BARE),
      0.85,
      'min',
      'ratio',
      'provgate-10k',
    ),
    result(
      'provgate-1 / bare-reply-from ≥ 0.95 (same proxy shape)',
      both(outcomes, 'provgate-1', BARE_REPLY_FROM),
      0.95,
      'min',
      'ratio',
      'provgate-1',
    ),
    result(
      'provgate-10k / bare-reply-from ≥ 0.85 (same proxy shape)',
      both(outcomes, 'provgate-10k', BARE_REPLY_FROM),
      0.85,
      'min',
      'ratio',
      'provgate-10k',
    ),
    result(
      'valid req/s in provgate-mixed / provgate-10k ≥ 0.5',
      [
        mixedOk === undefined || allValid === undefined ? null : medianRatio(okRpsOf(mixedOk), allValid),
        cpuRatio(outcomes, 'provgate-mixed', 'provgate-10k', true),
      ],
      0.5,
      'min',
      'ratio',
      'provgate-mixed',
    ),
    result(
      'p99 at half load: provgate-10k − bare-proxy ≤ 2 ms',
      [
        halfBare === undefined || halfGate === undefined
          ? null
          : median(halfGate.map((o) => o.p99Ms)) - median(halfBare.map((o) => o.p99Ms)),
        null,
      ],
      2,
      'max',
      'ms',
      'provgate-10k',
    ),
  ];
}
