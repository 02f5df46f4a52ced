import type { Change } from '../store/change-message.js';
import type { MirroredStore } from '../store/mirrored-store.js';
import type { LineageRecord } from './lineage-record.js';

export type LineageChange = Change<LineageRecord>;

/**
 * How a write met what the store held under its id: `created`; `same`, the very child already
 * recorded (a retried write, or a second instance recording the same answer); `conflict`,
 * another token recorded under the same issuer and jti, which a minting upstream must never do.
 */
export type LineageWrite = 'created' | 'same' | 'conflict';

/**
 * Where lineage records live: `memory` is one process, `redis` every instance (pub/sub carries
 * each change). Writes resolve once the store has the record, or reject (StoreUnavailableError
 * when it is away). The request path reads the LineageMirror, and the store only on a miss.
 */
export interface LineageStore extends MirroredStore<LineageRecord> {
  add(record: LineageRecord): Promise<{ outcome: LineageWrite; record: LineageRecord }>;
  /** One record by id: the bounded lookup of a mirror miss. */
  get(id: string): Promise<LineageRecord | undefined>;
  list(): Promise<LineageRecord[]>;
  /** Detaches from the store's connection (which other stores of the process may share). */
  close(): Promise<void>;
}
