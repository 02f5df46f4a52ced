import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { RedisLink } from '../store/redis-link.js';
import { MemoryTrustStore } from './memory-trust-store.js';
import { RedisTrustStore } from './redis-trust-store.js';
import type { TrustStore } from './trust-store.js';

/** The trust store of `config.kind`; a Redis one works on the process's one link. */
export function createTrustStore(
  config: StoreConfig,
  link: RedisLink | undefined,
  logger: Logger,
): TrustStore {
  if (config.kind === 'memory') return new MemoryTrustStore();
  if (link === undefined) throw new Error('store.kind redis needs the process RedisLink');
  return new RedisTrustStore(link, { prefix: config.prefix, logger });
}
