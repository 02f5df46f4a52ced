import type { Change } from '../store/change-message.js';
import type { MirroredStore } from '../store/mirrored-store.js';
import type { BlockRecord } from './block-record.js';

export type BlockChange = Change<BlockRecord>;

/**
 * Where blocks live: `memory` is one process, `redis` is every instance (pub/sub carries each
 * change). The request path never calls the store; it reads the in-memory BlockMirror.
 */
export interface BlockStore extends MirroredStore<BlockRecord> {
  /** Blocks not yet expired at `now`. */
  list(now: number): Promise<BlockRecord[]>;
  /** Stores the block, or keeps the stored one when it already lasts longer; `changed` says which. */
  add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }>;
  remove(id: string): Promise<BlockRecord | undefined>;
  /** Detaches from the store's connection (which other stores of the process may share). */
  close(): Promise<void>;
}
