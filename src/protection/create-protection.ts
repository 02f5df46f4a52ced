import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { CompiledProtection } from './compile-protection.js';
import { MemoryBlockStore } from './memory-block-store.js';
import { Protection } from './protection.js';
import { RedisProtectionStore } from './redis-protection-store.js';

/** Protection state in the same kind of store as revocations: memory (one process) or Redis (every instance). */
export function createProtection(
  compiled: CompiledProtection,
  options: { readonly store: StoreConfig; readonly logger: Logger; readonly clock: () => number },
): Protection {
  const { store, logger, clock } = options;
  const common = {
    logger,
    clock,
    resyncMs: store.resyncSeconds * 1000,
    instance: `${hostname()}:${process.pid}`,
  };
  if (store.kind === 'redis') {
    const redis = new RedisProtectionStore(store, logger);
    return new Protection(compiled, { ...common, blockStore: redis, shared: redis });
  }
  return new Protection(compiled, { ...common, blockStore: new MemoryBlockStore(), shared: undefined });
}
