import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { RedisLink } from '../store/redis-link.js';
import type { CompiledProtection } from './compile-protection.js';
import { MemoryBlockStore } from './memory-block-store.js';
import { Protection } from './protection.js';
import { RedisProtectionStore } from './redis-protection-store.js';

export interface ProtectionStoreDeps {
  readonly store: StoreConfig;
  /** The process's one Redis link (with `store.kind: redis`); its connections are shared. */
  readonly link: RedisLink | undefined;
  readonly logger: Logger;
  readonly clock: () => number;
}

/** Protection state in the same kind of store as revocations: memory (one process) or Redis (every instance). */
export function createProtection(compiled: CompiledProtection, deps: ProtectionStoreDeps): Protection {
  const { store, link, logger, clock } = deps;
  const common = {
    logger,
    clock,
    resyncMs: store.resyncSeconds * 1000,
    instance: `${hostname()}:${process.pid}`,
  };
  if (store.kind === 'redis') {
    if (link === undefined) throw new Error('store.kind redis needs the process RedisLink');
    const redis = new RedisProtectionStore(link, { prefix: store.prefix, logger });
    return new Protection(compiled, { ...common, blockStore: redis, shared: redis });
  }
  return new Protection(compiled, { ...common, blockStore: new MemoryBlockStore(), shared: undefined });
}
