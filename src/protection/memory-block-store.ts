import { MemoryFamilyStore } from '../store/memory-family-store.js';
import type { BlockRecord } from './block-record.js';
import type { BlockStore } from './block-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryBlockStore extends MemoryFamilyStore<BlockRecord> implements BlockStore {
  async list(now: number): Promise<BlockRecord[]> {
    return this.records.values().filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const existing = this.records.get(block.id);
    if (existing !== undefined && existing.expiresAt > now && existing.expiresAt >= block.expiresAt) {
      return { block: existing, changed: false };
    }
    this.records.put(block);
    return { block, changed: true };
  }

  async remove(id: string): Promise<BlockRecord | undefined> {
    return this.records.delete(id);
  }
}
