import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { boundStrings } from './bound-text.js';
import type { NoticeEvent, RefusalEvent, SecurityEventRecord } from './security-events.js';
import { StreamBudget } from './stream-budget.js';

/** The stream every instance appends to; the hash tag keeps it in one Redis Cluster slot. */
export function eventStreamKey(prefix: string): string {
  return `${prefix}{events}:stream`;
}

export interface EventStreamOptions {
  readonly key: string;
  /** Approximate cap (XADD MAXLEN ~): Redis trims whole macro nodes, so it may hold a little more. */
  readonly maxLength: number;
  /** Approximate cap in bytes of Redis memory (see StreamBudget); lowers the entry cap as needed. */
  readonly maxBytes: number;
  /** How often the stream's real size is measured (MEMORY USAGE) and trimmed if over maxBytes. */
  readonly measureMs?: number;
  readonly flushMs?: number;
  /** Events kept while Redis is away; past it new events are dropped and counted. */
  readonly maxBuffered?: number;
  readonly batchSize?: number;
  /** False when the client is the process's shared store link: its owner closes it. */
  readonly ownsClient?: boolean;
}

/**
 * Security events appended to a capped Redis stream, so that a SIEM or `provgate events tail`
 * follows every instance at once. The request path only pushes onto an array; a timer sends
 * batches in one pipeline, and a Redis that is away costs dropped stream entries (counted),
 * never a slower or failed request.
 */
export class RedisEventStream {
  written = 0;
  dropped = 0;
  private buffer: { event: SecurityEventRecord; time: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  private readonly instance = `${hostname()}:${process.pid}`;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  private warned = false;
  private readonly budget: StreamBudget;
  private readonly measureMs: number;
  private nextMeasureAt = 0;
  private writtenSinceMeasure = 0;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly options: EventStreamOptions,
    private readonly logger: Logger,
  ) {
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.batchSize = options.batchSize ?? 500;
    this.budget = new StreamBudget(options.maxBytes, options.maxLength);
    this.measureMs = options.measureMs ?? 10_000;
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 100);
    this.timer.unref();
    this.client.on('error', () => {});
  }

  push(event: SecurityEventRecord, time: number): void {
    if (this.buffer.length >= this.maxBuffered) this.dropped += 1;
    else this.buffer.push({ event, time });
  }

  /** Sends what is buffered; resolves when that batch is written or given up. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.buffer.length > 0) await this.flush();
    if (this.options.ownsClient !== false) this.client.disconnect();
  }

  private async send(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      const pipeline = this.client.pipeline();
      const { key } = this.options;
      for (const { event: record, time } of batch) {
        // Bounded where the events are made too; again here for any kind of event that is not.
        const event = boundStrings(record);
        const kind = kindOf(event);
        const data = JSON.stringify({
          ...event,
          time: new Date(time).toISOString(),
          instance: this.instance,
        });
        this.budget.observe(
          Buffer.byteLength(data) + event.event.length + event.severity.length + kind.length,
        );
        pipeline.xadd(
          key,
          'MAXLEN',
          '~',
          this.budget.maxEntries,
          '*',
          'event',
          event.event,
          'severity',
          event.severity,
          'kind',
          kind,
          'data',
          data,
        );
      }
      let failed = batch.length;
      let why = '';
      try {
        const results = (await pipeline.exec()) ?? [];
        failed = results.filter(([err]) => err !== null).length;
        why = results.find(([err]) => err !== null)?.[0]?.message ?? '';
      } catch (err) {
        why = (err as Error).message;
      }
      this.written += batch.length - failed;
      if (failed === 0) {
        this.warned = false;
        await this.measureWhenDue(batch.length);
        continue;
      }
      // Keep what fits for the next attempt; the rest is counted as dropped.
      const room = Math.max(0, this.maxBuffered - this.buffer.length);
      const kept = failed === batch.length ? batch.slice(0, room) : [];
      this.dropped += failed - kept.length;
      this.buffer.unshift(...kept);
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          { event: 'events.stream_failed', err: why },
          'security event stream: Redis write failed',
        );
      }
      return;
    }
  }

  /**
   * Every instance's entries and Redis' own overhead count against the budget, which no single
   * writer sees: every `measureMs`, and after every quarter of the stream's length written, the
   * stream is weighed and trimmed to fit. A Redis that refuses
   * MEMORY (renamed in some managed services) leaves the per-entry estimate alone in charge.
   */
  private async measureWhenDue(written: number): Promise<void> {
    this.writtenSinceMeasure += written;
    const now = Date.now();
    // Also after a quarter of the stream was written anew: a flood must not wait for the clock.
    const refilled = this.writtenSinceMeasure >= Math.max(100, this.budget.maxEntries / 4);
    if (now < this.nextMeasureAt && !refilled) return;
    this.nextMeasureAt = now + this.measureMs;
    this.writtenSinceMeasure = 0;
    await this.measure();
  }

  /**
   * Weighs the stream now and trims it to the byte budget if it is over. SAMPLES 0 weighs every
   * node (one length read each: about a millisecond for 100,000 entries); the default sample
   * reads only the oldest nodes, which say nothing about heavy entries written since. Trimming
   * by count removes the oldest entries, which may be lighter than the rest: weigh again, a few
   * times at most.
   */
  async measure(): Promise<void> {
    const { key } = this.options;
    try {
      for (let pass = 0; pass < 4; pass++) {
        const usage = Number(await this.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
        const length = await this.client.xlen(key);
        const trimTo = this.budget.measure(usage, length);
        if (trimTo === undefined) return;
        await this.client.xtrim(key, 'MAXLEN', trimTo);
      }
    } catch (err) {
      this.logger.debug(
        { event: 'events.stream_measure_failed', err: (err as Error).message },
        'security event stream: MEMORY USAGE failed',
      );
    }
  }
}

/**
 * The stream's `kind` field: a refusal's reason, an anomaly's rule (a shared signal keeps the
 * rule it had as an anomaly), else the event's own name.
 */
function kindOf(event: SecurityEventRecord): string {
  const name: string = event.event;
  if (name === 'auth.refused') return (event as RefusalEvent).reason;
  const rule = (event as NoticeEvent).rule;
  return typeof rule === 'string' ? rule : name;
}
