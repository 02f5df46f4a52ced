import { MemoryAuditTrail } from '../store/memory-audit-trail.js';
import { MemoryFamilyStore } from '../store/memory-family-store.js';
import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationStore } from './revocation-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryRevocationStore extends MemoryFamilyStore<RevocationRecord> implements RevocationStore {
  private readonly trail = new MemoryAuditTrail<AuditEntry>();

  async list(): Promise<RevocationRecord[]> {
    return this.records.values();
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const existing = this.records.get(record.id);
    if (existing !== undefined) return { record: existing, created: false };
    this.trail.note({ op: 'add', at: record.at, by: record.by, record });
    this.records.put(record);
    return { record, created: true };
  }

  async remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    if (this.records.get(id) === undefined) return undefined;
    this.trail.note({ op: 'remove', at: new Date().toISOString(), by, id });
    return this.records.delete(id);
  }

  override async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const at = new Date().toISOString();
    for (const record of this.records.deleteExpired(ids, now)) {
      this.trail.note({ op: 'remove', at, by: 'system', id: record.id });
    }
  }

  async audit(limit = 1000): Promise<AuditEntry[]> {
    return this.trail.last(limit);
  }
}
