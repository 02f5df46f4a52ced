import type { Change } from '../store/change-message.js';
import type { MirroredStore } from '../store/mirrored-store.js';
import type { RevocationRecord } from './revocation-record.js';

/** A change, with the store version it produced. */
export type RevocationChange = Change<RevocationRecord>;

/** One line of the audit trail: every add and every removal, with who and when. */
export interface AuditEntry {
  readonly op: 'add' | 'remove';
  readonly at: string;
  readonly by: string;
  readonly record?: RevocationRecord;
  readonly id?: string;
}

/**
 * Where revocations live. `memory` is one process; `redis` is shared by every instance.
 * Every write resolves only once the record is durable in the store, or rejects.
 */
export interface RevocationStore extends MirroredStore<RevocationRecord> {
  list(): Promise<RevocationRecord[]>;
  /** Adds the record unless one with its id exists; returns the stored one. */
  add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }>;
  /** Lifts a revocation; `by` is who asked, for the audit trail. */
  remove(id: string, by?: string): Promise<RevocationRecord | undefined>;
  /** The audit trail, oldest first, at most the last `limit` entries. */
  audit(limit?: number): Promise<AuditEntry[]>;
  /** Detaches from the store's connection (which other stores of the process may share). */
  close(): Promise<void>;
}
