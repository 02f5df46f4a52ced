import type { RequestStats } from './request-stats.js';

export interface RateSample {
  /** Epoch ms of the end of the second. */
  readonly t: number;
  readonly requests: number;
  readonly refusals: number;
  readonly high: number;
  readonly critical: number;
}

/**
 * Requests and refusals per second over the last few minutes, for the dashboard's charts: a
 * timer samples RequestStats' running totals once a second, so the request path does nothing.
 */
export class RateHistory {
  private readonly samples: RateSample[] = [];
  private last = { requests: 0, refusals: 0, high: 0, critical: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stats: RequestStats,
    private readonly clock: () => number,
    private readonly keep = 300,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  sample(): void {
    const now = {
      requests: this.stats.totalRequests,
      refusals: this.stats.totalRefusals,
      high: this.stats.refusalsBySeverity[1]!,
      critical: this.stats.refusalsBySeverity[2]!,
    };
    this.samples.push({
      t: this.clock(),
      requests: now.requests - this.last.requests,
      refusals: now.refusals - this.last.refusals,
      high: now.high - this.last.high,
      critical: now.critical - this.last.critical,
    });
    if (this.samples.length > this.keep) this.samples.shift();
    this.last = now;
  }

  list(): readonly RateSample[] {
    return this.samples;
  }
}
