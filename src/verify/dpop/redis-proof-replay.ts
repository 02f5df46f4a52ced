import type { FamilyLink } from '../../store/family-link.js';
import type { RedisClient } from '../../store/redis-link.js';
import { type ClaimResult, MemoryProofReplay, type ProofReplayStore } from './proof-replay.js';

/**
 * Proof ids shared by every instance: `SET <prefix>{dpop}:<id> 1 NX PX <ttl>`, one atomic
 * command per DPoP request, bounded by the store's lookup time-out (FamilyLink). One hash tag, so
 * it works unchanged on Redis Cluster. This instance's own memory is asked first: a proof
 * replayed to the same instance is refused without a round trip, and while Redis is away under
 * `serve-stale` it still holds for this instance.
 */
export class RedisProofReplay implements ProofReplayStore {
  readonly kind = 'redis' as const;
  private readonly local: MemoryProofReplay;

  constructor(
    private readonly family: FamilyLink,
    private readonly client: RedisClient,
    private readonly prefix: string,
    lifetimeMs: number,
    maxEntries: number,
    nowMs: number,
  ) {
    this.local = new MemoryProofReplay(lifetimeMs, maxEntries, nowMs);
  }

  claim(id: string, expiresAtMs: number, nowMs: number): ClaimResult {
    return this.local.claim(id, expiresAtMs, nowMs);
  }

  claimShared(id: string, ttlMs: number): Promise<boolean> {
    const key = `${this.prefix}{dpop}:${id}`;
    return this.family
      .run('lookup', () => this.client.set(key, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))
      .then((reply) => reply === 'OK');
  }

  close(): void {
    this.local.close();
    this.family.close();
  }
}
