import { MemoryRecords } from '../store/memory-records.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationChange, RevocationStore } from './revocation-store.js';

const AUDIT_CAP = 10_000;

/** One process, no Redis: the embedded default. */
export class MemoryRevocationStore implements RevocationStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new MemoryRecords<RevocationRecord>();
  private readonly trail: AuditEntry[] = [];

  async list(): Promise<RevocationRecord[]> {
    return this.records.values();
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const existing = this.records.get(record.id);
    if (existing !== undefined) return { record: existing, created: false };
    this.record({ op: 'add', at: record.at, by: record.by, record });
    this.records.put(record);
    return { record, created: true };
  }

  async remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    if (this.records.get(id) === undefined) return undefined;
    this.record({ op: 'remove', at: new Date().toISOString(), by, id });
    return this.records.delete(id);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const at = new Date().toISOString();
    for (const record of this.records.deleteExpired(ids, now)) {
      this.record({ op: 'remove', at, by: 'system', id: record.id });
    }
  }

  async audit(limit = 1000): Promise<AuditEntry[]> {
    return this.trail.slice(-limit);
  }

  version(): Promise<number> {
    return this.records.version();
  }

  snapshot(): Promise<Snapshot<RevocationRecord>> {
    return this.records.snapshot();
  }

  subscribe(listener: (change: RevocationChange) => void): () => void {
    return this.records.subscribe(listener);
  }

  settled(): Promise<void> {
    return this.records.settled();
  }

  onReconnect(listener: () => void): () => void {
    return this.records.onReconnect(listener);
  }

  async close(): Promise<void> {}

  private record(entry: AuditEntry): void {
    this.trail.push(entry);
    if (this.trail.length > AUDIT_CAP) this.trail.splice(0, this.trail.length - AUDIT_CAP);
  }
}
