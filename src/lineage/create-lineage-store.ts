import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { RedisLink } from '../store/redis-link.js';
import type { LineageStore } from './lineage-store.js';
import { MemoryLineageStore } from './memory-lineage-store.js';
import { RedisLineageStore } from './redis-lineage-store.js';

/** The lineage store of `config.kind`; a Redis one works on the process's one link. */
export function createLineageStore(
  config: StoreConfig,
  link: RedisLink | undefined,
  logger: Logger,
): LineageStore {
  if (config.kind === 'memory') return new MemoryLineageStore();
  if (link === undefined) throw new Error('store.kind redis needs the process RedisLink');
  return new RedisLineageStore(link, { prefix: config.prefix, logger });
}
