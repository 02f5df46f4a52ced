import type { TrustRecord } from '../keys/trust-record.js';
import type { Change } from '../store/change-message.js';
import type { MirroredStore } from '../store/mirrored-store.js';

export type TrustChange = Change<TrustRecord>;

/**
 * How a write meets what is stored under its id: an operator's decision replaces anything
 * (`always`); a key's first sighting is stored only where nothing is (`if-absent`), so the
 * earliest sighting and any decision win; a soak trusts only a key still quarantined.
 */
export type TrustWriteMode = 'always' | 'if-absent' | 'if-quarantined';

/** One line of the trust audit trail: every record written or removed, with who and when. */
export interface TrustAuditEntry {
  readonly op: 'put' | 'remove';
  readonly at: string;
  readonly by: string;
  readonly record?: TrustRecord;
  readonly id?: string;
}

/**
 * Where key trust decisions live: `memory` is one process, `redis` every instance (pub/sub
 * carries each change). Every write resolves once the store has it, or rejects
 * (StoreUnavailableError when the store is away). The request path reads the TrustIndex only.
 */
export interface TrustStore extends MirroredStore<TrustRecord> {
  /** Writes as `mode` allows; returns what the store holds under the id afterwards, and whether this write put it there. */
  put(
    record: TrustRecord,
    mode: TrustWriteMode,
  ): Promise<{ record: TrustRecord | undefined; written: boolean }>;
  /** Forgets a quarantine record (its key left the set); never removes a decision. */
  removeQuarantined(id: string, by: string): Promise<boolean>;
  /** The audit trail, oldest first, at most the last `limit` entries. */
  audit(limit?: number): Promise<TrustAuditEntry[]>;
  /** Detaches from the store's connection (which other stores of the process may share). */
  close(): Promise<void>;
}
