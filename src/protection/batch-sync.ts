import { performance } from 'node:perf_hooks';

export interface BatchSyncStats {
  batches: number;
  /** Longest time between the starts of two batches, in real milliseconds. */
  maxIntervalMs: number;
  /** Longest batch, from sending to every answer, in real milliseconds. */
  maxDurationMs: number;
}

/**
 * Runs every flusher (counters, sightings) together every `intervalMs`, one batch at a time.
 * These are real timers: they bound how stale a shared count is, whatever clock the rules use.
 */
export class BatchSync {
  readonly stats: BatchSyncStats = { batches: 0, maxIntervalMs: 0, maxDurationMs: 0 };
  private readonly flushers: (() => Promise<void>)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastStart: number | undefined;

  constructor(private readonly intervalMs: number) {}

  add(flusher: () => Promise<void>): void {
    this.flushers.push(flusher);
  }

  get active(): boolean {
    return this.flushers.length > 0;
  }

  start(): void {
    if (!this.active || this.timer !== undefined) return;
    // A tick that finds a batch still out is skipped: batches never queue up behind a slow store.
    this.timer = setInterval(() => {
      if (this.running === undefined) void this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.flush();
  }

  /** One batch now (or waits for the one already out, then runs another). */
  async flush(): Promise<void> {
    while (this.running !== undefined) await this.running;
    const started = performance.now();
    if (this.lastStart !== undefined) {
      this.stats.maxIntervalMs = Math.max(this.stats.maxIntervalMs, started - this.lastStart);
    }
    this.lastStart = started;
    this.running = Promise.all(this.flushers.map((f) => f().catch(() => {}))).then(() => {});
    try {
      await this.running;
    } finally {
      this.running = undefined;
      this.stats.batches += 1;
      this.stats.maxDurationMs = Math.max(this.stats.maxDurationMs, performance.now() - started);
    }
  }
}
