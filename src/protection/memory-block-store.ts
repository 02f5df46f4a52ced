import type { BlockRecord } from './block-record.js';
import type { BlockChange, BlockStore } from './block-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryBlockStore implements BlockStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  private readonly blocks = new Map<string, BlockRecord>();
  private readonly listeners: ((change: BlockChange) => void)[] = [];
  private counter = 0;

  async settled(): Promise<void> {}

  async list(now: number): Promise<BlockRecord[]> {
    return [...this.blocks.values()].filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const existing = this.blocks.get(block.id);
    if (existing !== undefined && existing.expiresAt > now && existing.expiresAt >= block.expiresAt) {
      return { block: existing, changed: false };
    }
    this.blocks.set(block.id, block);
    this.counter += 1;
    this.emit({ op: 'add', block });
    return { block, changed: true };
  }

  async remove(id: string): Promise<BlockRecord | undefined> {
    const existing = this.blocks.get(id);
    if (existing === undefined) return undefined;
    this.blocks.delete(id);
    this.counter += 1;
    this.emit({ op: 'remove', id });
    return existing;
  }

  async version(): Promise<number> {
    return this.counter;
  }

  async prune(now: number): Promise<void> {
    for (const [id, block] of this.blocks) if (block.expiresAt <= now) this.blocks.delete(id);
  }

  subscribe(listener: (change: BlockChange) => void): void {
    this.listeners.push(listener);
  }

  onReconnect(): void {}

  async close(): Promise<void> {}

  private emit(change: BlockChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
