import type { RevocationRecord } from './revocation-record.js';
import type { RevocationChange, RevocationStore } from './revocation-store.js';

/** One process, no Redis: the embedded default. */
export class MemoryRevocationStore implements RevocationStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new Map<string, RevocationRecord>();
  private readonly listeners: ((change: RevocationChange) => void)[] = [];
  private counter = 0;

  async list(): Promise<RevocationRecord[]> {
    return [...this.records.values()];
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const existing = this.records.get(record.id);
    if (existing !== undefined) return { record: existing, created: false };
    this.records.set(record.id, record);
    this.counter += 1;
    this.emit({ op: 'add', record });
    return { record, created: true };
  }

  async remove(id: string): Promise<RevocationRecord | undefined> {
    const existing = this.records.get(id);
    if (existing === undefined) return undefined;
    this.records.delete(id);
    this.counter += 1;
    this.emit({ op: 'remove', id });
    return existing;
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

  private emit(change: RevocationChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
