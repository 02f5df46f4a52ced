import type { BlockRecord } from './block-record.js';

export type BlockChange = { op: 'add'; block: BlockRecord } | { op: 'remove'; id: string };

/**
 * Where blocks live: `memory` is one process, `redis` is every instance (pub/sub carries each
 * change). The request path never calls the store; it reads the in-memory BlockMirror.
 */
export interface BlockStore {
  readonly kind: 'memory' | 'redis';
  readonly available: boolean;
  /** Resolves at the first answer from the backing store (connected or refused), so start-up does not race it. */
  settled(): Promise<void>;
  /** Blocks not yet expired at `now`. */
  list(now: number): Promise<BlockRecord[]>;
  /** Stores the block, or keeps the stored one when it already lasts longer; `changed` says which. */
  add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }>;
  remove(id: string): Promise<BlockRecord | undefined>;
  /** Changes with every write: a cheap way to notice a missed message. */
  version(): Promise<number>;
  /** Drops expired blocks from the store. */
  prune(now: number): Promise<void>;
  subscribe(listener: (change: BlockChange) => void): void;
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}
