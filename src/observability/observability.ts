import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { Config } from '../config/schema.js';
import { connect } from '../store/redis-link.js';
import { eventStreamKey, RedisEventStream } from './event-stream.js';
import { RateHistory } from './rate-history.js';
import { RecentEvents } from './recent-events.js';
import { RequestStats } from './request-stats.js';
import { type SecurityEventRecord, SecurityEvents } from './security-events.js';

/** What an instance keeps to be watched: counters, recent events, the Redis stream. */
export interface Observability {
  readonly events: SecurityEvents;
  readonly stats: RequestStats;
  readonly recent: RecentEvents;
  readonly rates: RateHistory;
  /** Set with the Redis store: every instance appends its events to one stream. */
  readonly stream: RedisEventStream | undefined;
  close(): Promise<void>;
}

export function createObservability(
  config: Config,
  routes: readonly CompiledRoute[],
  logger: Logger,
  clock: () => number,
  /** The process's shared store connection (its owner closes it); else the stream opens its own. */
  client?: Redis | Cluster,
): Observability {
  const events = new SecurityEvents(logger);
  const stats = new RequestStats(routes);
  const recent = new RecentEvents(config.events.recent);
  const rates = new RateHistory(stats, clock);
  const stream =
    config.store.kind === 'redis'
      ? new RedisEventStream(
          client ?? connect(config.store),
          {
            key: eventStreamKey(config.store.prefix),
            maxLength: config.events.streamMaxLength,
            maxBytes: config.events.streamMaxBytes,
            ownsClient: client === undefined,
          },
          logger,
        )
      : undefined;
  const record = (event: SecurityEventRecord) => {
    const time = clock();
    recent.push(event, time);
    stream?.push(event, time);
  };
  events.onRefusal(stats.refused);
  events.onRefusal(record);
  events.onNotice(record);
  rates.start();
  return {
    events,
    stats,
    recent,
    rates,
    stream,
    async close() {
      rates.stop();
      await stream?.close();
    },
  };
}
