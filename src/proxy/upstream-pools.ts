import { Pool } from 'undici';
import type { UpstreamsConfig } from '../config/schema.js';
import { UPSTREAM_AGENT_OPTIONS } from './upstream-options.js';

/** The keep-alive connections to one upstream origin, and how many requests it holds now. */
export class UpstreamPool {
  readonly dispatcher: Pool;
  /** Requests dispatched and not yet ended (running or waiting for a connection). */
  inFlight = 0;
  /** `inFlight` at which further requests are refused: every connection busy and the queue full. */
  readonly limit: number;
  /** The `Retry-After` of a refusal for a full queue. */
  readonly retryAfterSeconds: number;

  constructor(
    readonly origin: string,
    settings: UpstreamsConfig,
  ) {
    this.dispatcher = new Pool(origin, { ...UPSTREAM_AGENT_OPTIONS, connections: settings.connections });
    this.limit = settings.connections + settings.maxQueued;
    this.retryAfterSeconds = settings.retryAfterSeconds;
  }

  get busy(): boolean {
    return this.inFlight >= this.limit;
  }
}

/**
 * One pool per upstream origin, owned by one configuration generation: routes that share an
 * origin share its connections, and a reload's new generation starts with pools of its own.
 */
export class UpstreamPools {
  private readonly byOrigin = new Map<string, UpstreamPool>();

  constructor(readonly settings: UpstreamsConfig) {}

  /** The pool of `origin` (`http(s)://host:port`), made on first use. */
  forOrigin(origin: string): UpstreamPool {
    let pool = this.byOrigin.get(origin);
    if (pool === undefined) {
      pool = new UpstreamPool(origin, this.settings);
      this.byOrigin.set(origin, pool);
    }
    return pool;
  }

  /** Requests dispatched on any of these pools and not yet ended. */
  get inFlight(): number {
    let n = 0;
    for (const pool of this.byOrigin.values()) n += pool.inFlight;
    return n;
  }

  /**
   * Lets every request already dispatched finish (undici's close waits for running and queued
   * requests), then closes the connections; past `graceMs`, if given, cuts what is left. Tunnels
   * are not affected: an upgraded socket leaves its pool.
   */
  async close(graceMs?: number): Promise<void> {
    const pools = [...this.byOrigin.values()].map((pool) => pool.dispatcher);
    const closed = Promise.all(pools.map((pool) => pool.close()));
    if (graceMs === undefined) {
      await closed;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, graceMs, 'late');
    });
    const outcome = await Promise.race([closed, late]);
    clearTimeout(timer);
    if (outcome === 'late') await Promise.all(pools.map((pool) => pool.destroy()));
  }
}
