import type { TrustRecord } from '../keys/trust-record.js';
import { MemoryRecords } from '../store/memory-records.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { TrustAuditEntry, TrustChange, TrustStore, TrustWriteMode } from './trust-store.js';

const AUDIT_CAP = 10_000;

/** One process, no Redis: the embedded default. Decisions last as long as the process. */
export class MemoryTrustStore implements TrustStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new MemoryRecords<TrustRecord>();
  private readonly trail: TrustAuditEntry[] = [];

  async put(
    record: TrustRecord,
    mode: TrustWriteMode,
  ): Promise<{ record: TrustRecord | undefined; written: boolean }> {
    const existing = this.records.get(record.id);
    if (mode === 'if-absent' && existing !== undefined) return { record: existing, written: false };
    if (mode === 'if-quarantined' && existing?.state !== 'quarantined')
      return { record: existing, written: false };
    this.note({ op: 'put', at: record.at, by: record.by, record });
    this.records.put(record);
    return { record, written: true };
  }

  async removeQuarantined(id: string, by: string): Promise<boolean> {
    if (this.records.get(id)?.state !== 'quarantined') return false;
    this.note({ op: 'remove', at: new Date().toISOString(), by, id });
    this.records.delete(id);
    return true;
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    this.records.deleteExpired(ids, now);
  }

  async audit(limit = 1000): Promise<TrustAuditEntry[]> {
    return this.trail.slice(-limit);
  }

  version(): Promise<number> {
    return this.records.version();
  }

  snapshot(): Promise<Snapshot<TrustRecord>> {
    return this.records.snapshot();
  }

  subscribe(listener: (change: TrustChange) => void): () => void {
    return this.records.subscribe(listener);
  }

  settled(): Promise<void> {
    return this.records.settled();
  }

  onReconnect(listener: () => void): () => void {
    return this.records.onReconnect(listener);
  }

  async close(): Promise<void> {}

  private note(entry: TrustAuditEntry): void {
    this.trail.push(entry);
    if (this.trail.length > AUDIT_CAP) this.trail.splice(0, this.trail.length - AUDIT_CAP);
  }
}
