import { MemoryRecords } from '../store/memory-records.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { LineageRecord } from './lineage-record.js';
import type { LineageChange, LineageStore, LineageWrite } from './lineage-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryLineageStore implements LineageStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new MemoryRecords<LineageRecord>();

  async add(record: LineageRecord): Promise<{ outcome: LineageWrite; record: LineageRecord }> {
    const existing = this.records.get(record.id);
    if (existing !== undefined) {
      const outcome = existing.child.fingerprint === record.child.fingerprint ? 'same' : 'conflict';
      return { outcome, record: existing };
    }
    this.records.put(record);
    return { outcome: 'created', record };
  }

  async get(id: string): Promise<LineageRecord | undefined> {
    return this.records.get(id);
  }

  async list(): Promise<LineageRecord[]> {
    return this.records.values();
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    this.records.deleteExpired(ids, now);
  }

  version(): Promise<number> {
    return this.records.version();
  }

  snapshot(): Promise<Snapshot<LineageRecord>> {
    return this.records.snapshot();
  }

  subscribe(listener: (change: LineageChange) => void): () => void {
    return this.records.subscribe(listener);
  }

  settled(): Promise<void> {
    return this.records.settled();
  }

  onReconnect(listener: () => void): () => void {
    return this.records.onReconnect(listener);
  }

  async close(): Promise<void> {}
}
