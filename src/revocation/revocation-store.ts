import type { RevocationRecord } from './revocation-record.js';

/** A change, with the store version it produced when the store knows it. */
export type RevocationChange = ({ op: 'add'; record: RevocationRecord } | { op: 'remove'; id: string }) & {
  version?: number;
};

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
export interface RevocationStore {
  readonly kind: 'memory' | 'redis';
  /** Whether the last contact with the backing store succeeded. */
  readonly available: boolean;
  /** Why it is unavailable, for /readyz. */
  readonly unavailableReason: string | undefined;
  list(): Promise<RevocationRecord[]>;
  /** Adds the record unless one with its id exists; returns the stored one. */
  add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }>;
  /** Lifts a revocation; `by` is who asked, for the audit trail. */
  remove(id: string, by?: string): Promise<RevocationRecord | undefined>;
  /** The audit trail, oldest first, at most the last `limit` entries. */
  audit(limit?: number): Promise<AuditEntry[]>;
  /** A number that changes with every write: a cheap way to notice a missed message. */
  version(): Promise<number>;
  /** Changes made by any instance, including this one. */
  subscribe(listener: (change: RevocationChange) => void): void;
  /** Resolves once the first connection attempt has ended, reached or not (bounded). */
  settled(): Promise<void>;
  /** Called when the store becomes reachable again, so the caller can resync. */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}
