import { MemoryRecords } from '../store/memory-records.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { BlockRecord } from './block-record.js';
import type { BlockChange, BlockStore } from './block-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryBlockStore implements BlockStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly blocks = new MemoryRecords<BlockRecord>();

  async list(now: number): Promise<BlockRecord[]> {
    return this.blocks.values().filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const existing = this.blocks.get(block.id);
    if (existing !== undefined && existing.expiresAt > now && existing.expiresAt >= block.expiresAt) {
      return { block: existing, changed: false };
    }
    this.blocks.put(block);
    return { block, changed: true };
  }

  async remove(id: string): Promise<BlockRecord | undefined> {
    return this.blocks.delete(id);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    this.blocks.deleteExpired(ids, now);
  }

  version(): Promise<number> {
    return this.blocks.version();
  }

  snapshot(): Promise<Snapshot<BlockRecord>> {
    return this.blocks.snapshot();
  }

  subscribe(listener: (change: BlockChange) => void): () => void {
    return this.blocks.subscribe(listener);
  }

  settled(): Promise<void> {
    return this.blocks.settled();
  }

  onReconnect(listener: () => void): () => void {
    return this.blocks.onReconnect(listener);
  }

  async close(): Promise<void> {}
}
