import type { StoreConfig } from '../config/schema.js';
import type { Change } from './change-message.js';
import { StoreUnavailableError } from './store-unavailable-error.js';

// What a family of mirrored state brings to the one sync protocol (mirror-sync.ts): its store,
// its index and its write policy. Revocations, blocks, lineage, key trust decisions and signal
// state implement the same three to be mirrored the same way. Their stores are a RedisFamilyStore
// or MemoryFamilyStore (the MirroredStore half, once) with their own writes added.

/** What every mirrored record has: an id derived from what it is, and maybe an end. */
export interface MirroredRecord {
  readonly id: string;
  /** Epoch ms after which the record is dropped everywhere; undefined: until removed. */
  readonly expiresAt?: number | undefined;
}

/** The store's whole family at one version, read atomically. */
export interface Snapshot<R> {
  readonly version: number;
  readonly records: readonly R[];
}

/**
 * What the sync needs of a family's store (memory or Redis). Every method rejects with
 * StoreUnavailableError when the store is away, and with anything else only for a bug.
 */
export interface MirroredStore<R extends MirroredRecord> {
  readonly kind: StoreConfig['kind'];
  /** Whether the last contact with the backing store succeeded. */
  readonly available: boolean;
  /** Why it is unavailable, for /readyz. */
  readonly unavailableReason: string | undefined;
  /** Resolves once the first connection attempt has ended, reached or not (bounded). */
  settled(): Promise<void>;
  /** A number that moves with every write: the cheap way to notice a missed message. */
  version(): Promise<number>;
  /** Every record, expired ones included, with the version they are at. */
  snapshot(): Promise<Snapshot<R>>;
  /** Removes those of `ids` that are still expired at `now`, in one round trip, announcing each. */
  removeExpired(ids: readonly string[], now: number): Promise<void>;
  /** Changes made by any instance, this one included; returns the unsubscribe. */
  subscribe(listener: (change: Change<R>) => void): () => void;
  /** Called when the store answers again after an outage, or may have lost messages. */
  onReconnect(listener: () => void): () => void;
}

/** The family's in-memory index, which the request path reads. */
export interface Mirror<R extends MirroredRecord> {
  apply(record: R): void;
  remove(id: string): unknown;
  replaceAll(records: Iterable<R>): void;
  /** Drops what has run out at `now`; returns the ids dropped. */
  expire(now: number): string[];
}

/** What a family owes the store beyond the mirror: its write policy's half of a sync. */
export interface SyncPolicy<R extends MirroredRecord> {
  /**
   * Sends what this instance decided but the store has not confirmed (config records to write
   * or lift, blocks decided while Redis was away). StoreUnavailableError keeps it for the next
   * sync; a write that fails for any other reason must be dropped, not retried for ever.
   */
  flushPending(): Promise<void>;
  /** Records the mirror keeps beyond a reloaded snapshot (writes in flight, config records the store lost). */
  reinstate(stored: readonly R[]): Promise<readonly R[]>;
  /** Sees every change applied from the store (a block lifted elsewhere is no longer owed). */
  onChange?(change: Change<R>): void;
}

/**
 * A write policy's helper for what it owes the store: sends each item in turn and `settle`s it
 * once sent. An outage stops there (the rest waits for the next sync); any other error settles
 * its item too, so a bug is thrown once, not retried as if Redis were away.
 */
export async function sendOwed<T>(
  owed: Iterable<T>,
  send: (item: T) => Promise<unknown>,
  settle: (item: T) => void,
): Promise<void> {
  for (const item of [...owed]) {
    try {
      await send(item);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) settle(item);
      throw err;
    }
    settle(item);
  }
}
