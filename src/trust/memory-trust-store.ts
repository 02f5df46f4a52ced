import type { TrustRecord } from '../keys/trust-record.js';
import { MemoryAuditTrail } from '../store/memory-audit-trail.js';
import { MemoryFamilyStore } from '../store/memory-family-store.js';
import type { TrustAuditEntry, TrustStore, TrustWriteMode } from './trust-store.js';

/** One process, no Redis: the embedded default. Decisions last as long as the process. */
export class MemoryTrustStore extends MemoryFamilyStore<TrustRecord> implements TrustStore {
  private readonly trail = new MemoryAuditTrail<TrustAuditEntry>();

  async put(
    record: TrustRecord,
    mode: TrustWriteMode,
  ): Promise<{ record: TrustRecord | undefined; written: boolean }> {
    const existing = this.records.get(record.id);
    if (mode === 'if-absent' && existing !== undefined) return { record: existing, written: false };
    if (mode === 'if-quarantined' && existing?.state !== 'quarantined')
      return { record: existing, written: false };
    this.trail.note({ op: 'put', at: record.at, by: record.by, record });
    this.records.put(record);
    return { record, written: true };
  }

  async removeQuarantined(id: string, by: string): Promise<boolean> {
    if (this.records.get(id)?.state !== 'quarantined') return false;
    this.trail.note({ op: 'remove', at: new Date().toISOString(), by, id });
    this.records.delete(id);
    return true;
  }

  async audit(limit = 1000): Promise<TrustAuditEntry[]> {
    return this.trail.last(limit);
  }
}
