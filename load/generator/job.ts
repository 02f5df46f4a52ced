/** One measurement, as the orchestrator asks the generator process for it. */
export interface LoadJob {
  readonly id: number;
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** JSON array of Authorization header values, sent in rotation; none for a bare request. */
  readonly poolFile: string | undefined;
  /** Offered load in requests per second, paced evenly (open loop); absent for autocannon's closed loop at saturation. */
  readonly overallRate?: number;
}

/** What one measurement saw; latencies are every response's own time, to the microsecond. */
export interface LoadOutcome {
  readonly id: number;
  readonly requests: number;
  readonly elapsedSeconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly timeouts: number;
  /** Cores' worth of CPU the generator used; near 1.0 means it, not the target, was the limit. */
  readonly generatorCpu: number;
  /** Whether requests were prebuilt and rotated outside autocannon's per-request rebuild. */
  readonly fastRotation: boolean;
  /** CPU seconds the target process used during the measurement (set by the orchestrator). */
  readonly targetCpuSeconds?: number;
  /** provgate only: verified-token cache hits and misses during the measurement. */
  readonly cacheHits?: number;
  readonly cacheMisses?: number;
  readonly error?: string;
}
