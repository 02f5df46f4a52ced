import type { LoadOutcome } from '../generator/job.js';
import type { ScenarioSummary } from '../measure/summarize.js';
import type { CapturedProfile } from '../profile/capture-profile.js';
import type { TargetResult } from './issue-targets.js';

/** Everything a run produced: what latest.json holds and latest.md/latest.svg are drawn from. */
export interface RunReport {
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly partial: boolean;
  readonly method: {
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly rounds: number;
    readonly connections: number;
    readonly distinctTokens: number;
    readonly tokenBytes: number;
    readonly upstreamBodyBytes: number;
    readonly upstream: string;
    readonly pinning: string;
    readonly provgate: string;
    readonly bareProxy: string;
    readonly haproxy: string;
  };
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly node: string;
    readonly platform: string;
  };
  readonly scenarios: readonly ScenarioSummary[];
  readonly halfLoad: {
    readonly rate: number;
    readonly rows: ReadonlyArray<{
      readonly name: string;
      readonly p50Ms: number;
      readonly p99Ms: number;
      readonly rps: number;
    }>;
  } | null;
  readonly targets: readonly TargetResult[];
  readonly profiles: readonly CapturedProfile[];
  readonly notes: readonly string[];
  readonly raw: Readonly<Record<string, readonly LoadOutcome[]>>;
}
