import { MemoryFamilyStore } from '../store/memory-family-store.js';
import type { LineageRecord } from './lineage-record.js';
import type { LineageStore, LineageWrite } from './lineage-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryLineageStore extends MemoryFamilyStore<LineageRecord> implements LineageStore {
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
}
