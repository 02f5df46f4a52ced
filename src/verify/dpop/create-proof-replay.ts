import type { Config } from '../../config/schema.js';
import type { RedisLink } from '../../store/redis-link.js';
import { MemoryProofReplay, type ProofReplayStore } from './proof-replay.js';
import { RedisProofReplay } from './redis-proof-replay.js';

/**
 * The proof-replay store of the configured kind: this process's memory, or Redis on the
 * process's one RedisLink (with the memory in front). An id lives until its proof's `iat`
 * could no longer be accepted anywhere: `iat` up to maxFuture ahead, accepted for maxAge,
 * on clocks up to maxFuture apart.
 */
export function createProofReplay(
  config: Config,
  link: RedisLink | undefined,
  clock: () => number,
): ProofReplayStore {
  const { maxAgeSeconds, maxFutureSeconds, replayCacheEntries } = config.dpop;
  const lifetimeMs = (maxAgeSeconds + 2 * maxFutureSeconds) * 1000;
  if (config.store.kind !== 'redis') return new MemoryProofReplay(lifetimeMs, replayCacheEntries, clock());
  if (link === undefined) throw new Error('store.kind redis needs the process RedisLink');
  return new RedisProofReplay(
    link.family('dpop replay store'),
    link.client,
    config.store.prefix,
    lifetimeMs,
    replayCacheEntries,
    clock(),
  );
}
