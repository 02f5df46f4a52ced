import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationChange, RevocationStore } from './revocation-store.js';

const AUDIT_CAP = 10_000;

/** One process, no Redis: the embedded default. */
export class MemoryRevocationStore implements RevocationStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new Map<string, RevocationRecord>();
  private readonly listeners: ((change: RevocationChange) => void)[] = [];
  private counter = 0;
  private readonly trail: AuditEntry[] = [];

  async list(): Promise<RevocationRecord[]> {
    return [...this.records.values()];
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const existing = this.records.get(record.id);
    if (existing !== undefined) return { record: existing, created: false };
    this.records.set(record.id, record);
    this.record({ op: 'add', at: record.at, by: record.by, record });
    this.counter += 1;
    this.emit({ op: 'add', record, version: this.counter });
    return { record, created: true };
  }

  async remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    const existing = this.records.get(id);
    if (existing === undefined) return undefined;
    this.records.delete(id);
    this.record({ op: 'remove', at: new Date().toISOString(), by, id });
    this.counter += 1;
    this.emit({ op: 'remove', id, version: this.counter });
    return existing;
  }

  async audit(limit = 1000): Promise<AuditEntry[]> {
    return this.trail.slice(-limit);
  }

  async version(): Promise<number> {
    return this.counter;
  }

  subscribe(listener: (change: RevocationChange) => void): void {
    this.listeners.push(listener);
  }

  async settled(): Promise<void> {}

  onReconnect(): void {}

  async close(): Promise<void> {}

  private record(entry: AuditEntry): void {
    this.trail.push(entry);
    if (this.trail.length > AUDIT_CAP) this.trail.splice(0, this.trail.length - AUDIT_CAP);
  }

  private emit(change: RevocationChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
