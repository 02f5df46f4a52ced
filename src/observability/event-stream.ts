import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SecurityEventRecord } from './security-events.js';

/** The stream every instance appends to; the hash tag keeps it in one Redis Cluster slot. */
export function eventStreamKey(prefix: string): string {
  return `${prefix}{events}:stream`;
}

export interface EventStreamOptions {
  readonly key: string;
  /** Approximate cap (XADD MAXLEN ~): Redis trims whole macro nodes, so it may hold a little more. */
  readonly maxLength: number;
  readonly flushMs?: number;
  /** Events kept while Redis is away; past it new events are dropped and counted. */
  readonly maxBuffered?: number;
  readonly batchSize?: number;
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

  constructor(
    private readonly client: Redis | Cluster,
    private readonly options: EventStreamOptions,
    private readonly logger: Logger,
  ) {
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.batchSize = options.batchSize ?? 500;
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
    this.client.disconnect();
  }

  private async send(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      const pipeline = this.client.pipeline();
      const { key, maxLength } = this.options;
      for (const { event, time } of batch) {
        pipeline.xadd(
          key,
          'MAXLEN',
          '~',
          maxLength,
          '*',
          'event',
          event.event,
          'severity',
          event.severity,
          'kind',
          event.event === 'auth.refused' ? event.reason : event.rule,
          'data',
          JSON.stringify({ ...event, time: new Date(time).toISOString(), instance: this.instance }),
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
}
