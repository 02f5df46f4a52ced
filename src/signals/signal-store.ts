import { createHash } from 'node:crypto';
import type { StoredChange } from '../store/change-message.js';
import type { MirroredStore } from '../store/mirrored-store.js';
import type { BlockingEvent } from './event-types.js';

/** A subject blocked by a transmitter's signal (signals.blockOn) until a later signal lifts it. */
export interface SignalBlock {
  readonly id: string;
  readonly transmitter: string;
  readonly issuerId: string;
  readonly sub: string;
  readonly signal: BlockingEvent;
  /** The level or status that blocked (HIGH, not-compliant, decrease...). */
  readonly value: string;
  /** Epoch seconds of the event. */
  readonly at: number;
  /** The SET that set it. */
  readonly jti: string;
}

export type StreamState = 'enabled' | 'paused' | 'disabled';

/** What every instance knows about a transmitter. Times are ISO 8601. */
export interface TransmitterState {
  readonly stream?: StreamState;
  readonly streamReason?: string | null;
  readonly streamSince?: string;
  readonly lastEventAt?: string;
  readonly lastEvent?: string;
  readonly lastJti?: string;
  readonly lastErrorAt?: string;
  readonly lastError?: string;
  /** When a verification SET last arrived, and whether its state was one asked for. */
  readonly lastVerificationAt?: string;
  readonly lastVerification?: 'verified' | 'unexpected';
  /** When a verification asked for (signals verify) last came back with its state. */
  readonly lastVerifiedAt?: string;
  /** Recorded before 'lastVerification': the state of the last verification SET. */
  readonly lastVerificationState?: string | null;
}

/**
 * The signal family's mirrored records: the blocks signals hold and each transmitter's state
 * (stream state for the request path, last event and error for status). One family, one version
 * counter, one change channel, so a change of either kind is one versioned message.
 */
export type SignalRecord =
  | { readonly id: string; readonly type: 'block'; readonly block: SignalBlock }
  | {
      readonly id: string;
      readonly type: 'transmitter';
      readonly name: string;
      readonly state: TransmitterState;
    };

export type SignalChange = StoredChange<SignalRecord>;

/** A verification state's key: fixed length whatever a transmitter sends back. */
export function verificationKey(transmitter: string, state: string): string {
  return createHash('sha256')
    .update(JSON.stringify([transmitter, state]))
    .digest('hex')
    .slice(0, 32);
}

/** The record id of a transmitter's state; block ids come from blockId (apply-signal.ts). */
export function transmitterRecordId(name: string): string {
  return `transmitter:${name}`;
}

/**
 * Where the receiver keeps what must hold across instances and restarts. Mirrored (through the one
 * MirrorSync): blocks and transmitter states. Store-side only, each one atomic command: which SETs
 * were applied (so a SET is applied once however often it arrives) and the latest state per
 * subject and signal (so an older event arriving late changes nothing), and the verification
 * states asked for and not yet seen (so the SET can come back to any instance, and counts once).
 * `memory` is one process;
 * `redis` is every instance. Writes resolve once stored, or reject with StoreUnavailableError.
 */
export interface SignalStore extends MirroredStore<SignalRecord> {
  wasApplied(key: string): Promise<boolean>;
  markApplied(key: string, ttlMs: number): Promise<void>;
  /** Records `value` as the state of `key` at `at` unless a later state is recorded; true when recorded. */
  advance(key: string, at: number, value: string): Promise<boolean>;
  putBlock(block: SignalBlock): Promise<SignalChange>;
  /** Undefined: there was no such block. */
  removeBlock(id: string): Promise<SignalChange | undefined>;
  /** Merges `patch` into the transmitter's stored state; resolves with the merged record. */
  patchTransmitter(name: string, patch: TransmitterState): Promise<SignalChange>;
  /** Remembers a verification state asked of `transmitter` for `ttlMs`. */
  expectVerification(transmitter: string, state: string, ttlMs: number): Promise<void>;
  /** True once per state asked for and not expired: the state is used up by this call. */
  consumeVerification(transmitter: string, state: string): Promise<boolean>;
  /** Detaches from the store's connection (which other stores of the process may share). */
  close(): Promise<void>;
}
