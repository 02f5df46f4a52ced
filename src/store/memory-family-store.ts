import type { Change } from './change-message.js';
import { MemoryRecords } from './memory-records.js';
import type { MirroredRecord, MirroredStore, Snapshot } from './mirrored-store.js';

/**
 * The MirroredStore half of a family in one process, no Redis: the embedded default. A family
 * adds its write operations on `records`, which moves the version and announces every write as
 * a Redis store would, so one MirrorSync serves both kinds.
 */
export class MemoryFamilyStore<R extends MirroredRecord> implements MirroredStore<R> {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly unavailableReason = undefined;
  protected readonly records = new MemoryRecords<R>();

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    this.records.deleteExpired(ids, now);
  }

  version(): Promise<number> {
    return this.records.version();
  }

  snapshot(): Promise<Snapshot<R>> {
    return this.records.snapshot();
  }

  subscribe(listener: (change: Change<R>) => void): () => void {
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
