import { createHash } from 'node:crypto';

/** What remembering a proof's id said: first sight, seen before, or no room to remember it. */
export type ClaimResult = 'fresh' | 'replayed' | 'full';

/**
 * Where the ids of accepted DPoP proofs are remembered for as long as the proof could be accepted
 * (RFC 9449 §11.1). `claim` is this instance's memory, synchronous; with Redis, `claimShared` is
 * the one atomic command that makes a proof single-use on every instance.
 */
export interface ProofReplayStore {
  readonly kind: 'memory' | 'redis';
  /** Remembers `id` until `expiresAtMs` unless it is remembered already. */
  claim(id: string, expiresAtMs: number, nowMs: number): ClaimResult;
  /** Redis only: true on the first claim anywhere, false for a proof some instance took already; rejects with StoreUnavailableError. */
  claimShared?(id: string, ttlMs: number): Promise<boolean>;
  close(): void;
}

/**
 * The id a proof is remembered by: its `jti` in the context of the key that signed it (so that
 * two clients cannot collide, inji-certify #1000), hashed, so that an entry has one small size
 * whatever the client put in `jti` (RFC 9449 §11.1).
 */
export function proofId(thumbprint: string, jti: string): string {
  return createHash('sha256').update(thumbprint).update('\n').update(jti).digest('base64url');
}

/**
 * Proof ids in this process, for as long as each can be accepted. Never an LRU: evicting a live
 * id makes its proof replayable (Spring's 1,000-entry cache is flushed by 1,001 fresh proofs), so
 * when full it says so and the caller refuses (memory store) or leaves it to Redis. Two
 * generations rotated every `lifetimeMs`: an id stays at least that long, at most twice that,
 * with no timer and no sweep.
 */
export class MemoryProofReplay implements ProofReplayStore {
  readonly kind = 'memory' as const;
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private rotatedAt: number;

  constructor(
    private readonly lifetimeMs: number,
    private readonly maxEntries: number,
    nowMs: number,
  ) {
    this.rotatedAt = nowMs;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  claim(id: string, expiresAtMs: number, nowMs: number): ClaimResult {
    if (nowMs - this.rotatedAt >= this.lifetimeMs) {
      // Twice the lifetime without a claim: both generations are past.
      this.previous = nowMs - this.rotatedAt >= 2 * this.lifetimeMs ? new Map() : this.current;
      this.current = new Map();
      this.rotatedAt = nowMs;
    }
    const seen = this.current.get(id) ?? this.previous.get(id);
    if (seen !== undefined && seen > nowMs) return 'replayed';
    if (this.current.size + this.previous.size >= this.maxEntries) return 'full';
    this.current.set(id, expiresAtMs);
    return 'fresh';
  }

  close(): void {
    this.current.clear();
    this.previous.clear();
  }
}
