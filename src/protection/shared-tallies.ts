/** Adds `delta` to a counter that expires `ttlMs` after it was created. */
export interface CountDelta {
  /** Logical name; the store adds its prefix and hash tag. */
  readonly key: string;
  readonly delta: number;
  readonly ttlMs: number;
}

/** One client address seen using one token. */
export interface Sighting {
  readonly fingerprint: string;
  readonly address: string;
  readonly at: number;
  readonly windowMs: number;
  /** The replay threshold: above it the store also returns the addresses, as evidence. */
  readonly maxAddresses: number;
}

export interface SightingTally {
  /** Distinct addresses that used the token within the window, on every instance. */
  readonly addresses: number;
  /** Up to 50 of them, only when there are more than `maxAddresses`. */
  readonly evidence: readonly string[];
}

/**
 * Cluster-wide counts, written in batches so that no request waits on them. Only the Redis store
 * has them; with the memory store one process sees everything and nothing needs sharing.
 */
export interface SharedTallies {
  addCounts(batch: readonly CountDelta[]): Promise<number[]>;
  addSightings(batch: readonly Sighting[]): Promise<SightingTally[]>;
}
