import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { MemoryRevocationStore } from './memory-store.js';
import { RedisRevocationStore } from './redis-store.js';
import type { RevocationStore } from './revocation-store.js';

export function createRevocationStore(config: StoreConfig, logger: Logger): RevocationStore {
  return config.kind === 'redis' ? new RedisRevocationStore(config, logger) : new MemoryRevocationStore();
}
