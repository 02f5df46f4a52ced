import type { Change } from './change-message.js';
import type { MirroredRecord, Snapshot } from './mirrored-store.js';

/**
 * A family's records inside one process: what a memory store is made of. Every write moves the
 * version and is announced with it, synchronously, exactly as a Redis store announces it over
 * pub/sub, so one MirrorSync serves both kinds of store.
 */
export class MemoryRecords<R extends MirroredRecord> {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  private readonly records = new Map<string, R>();
  private readonly listeners = new Set<(change: Change<R>) => void>();
  private counter = 0;

  get(id: string): R | undefined {
    return this.records.get(id);
  }

  values(): R[] {
    return [...this.records.values()];
  }

  /** Stores and announces `record`; returns the version this write made. */
  put(record: R): number {
    this.records.set(record.id, record);
    this.emit({ op: 'add', record, version: ++this.counter });
    return this.counter;
  }

  delete(id: string): R | undefined {
    const existing = this.records.get(id);
    if (existing === undefined) return undefined;
    this.records.delete(id);
    this.emit({ op: 'remove', id, version: ++this.counter });
    return existing;
  }

  /** Deletes those of `ids` still expired at `now`; returns what it deleted. */
  deleteExpired(ids: readonly string[], now: number): R[] {
    const gone: R[] = [];
    for (const id of ids) {
      const record = this.records.get(id);
      if (record?.expiresAt !== undefined && record.expiresAt <= now) {
        this.delete(id);
        gone.push(record);
      }
    }
    return gone;
  }

  async version(): Promise<number> {
    return this.counter;
  }

  async snapshot(): Promise<Snapshot<R>> {
    return { version: this.counter, records: this.values() };
  }

  subscribe(listener: (change: Change<R>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async settled(): Promise<void> {}

  /** Memory never goes away. */
  onReconnect(_listener: () => void): () => void {
    return () => {};
  }

  private emit(change: Change<R>): void {
    for (const listener of this.listeners) listener(change);
  }
}
