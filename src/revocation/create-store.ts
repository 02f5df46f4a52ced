import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { RedisLink } from '../store/redis-link.js';
import { MemoryRevocationStore } from './memory-store.js';
import { RedisRevocationStore } from './redis-store.js';
import type { RevocationStore } from './revocation-store.js';

/** The revocation store of `config.kind`; a Redis one works on the process's one link. */
export function createRevocationStore(
  config: StoreConfig,
  link: RedisLink | undefined,
  logger: Logger,
): RevocationStore {
  if (config.kind === 'memory') return new MemoryRevocationStore();
  if (link === undefined) throw new Error('store.kind redis needs the process RedisLink');
  return new RedisRevocationStore(link, { prefix: config.prefix, logger });
}
