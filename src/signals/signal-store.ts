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

/** What every instance knows about a transmitter (shared with the Redis store). Times are ISO 8601. */
export interface TransmitterState {
  readonly stream?: StreamState;
  readonly streamReason?: string | null;
  readonly streamSince?: string;
  readonly lastEventAt?: string;
  readonly lastEvent?: string;
  readonly lastJti?: string;
  readonly lastErrorAt?: string;
  readonly lastError?: string;
  readonly lastVerificationAt?: string;
  readonly lastVerificationState?: string | null;
}

/**
 * Where the receiver keeps what must hold across instances and restarts: which SETs were applied
 * (so a SET is applied once however often it arrives), the latest state per subject and signal
 * (so an older event arriving late changes nothing), blocks and transmitter states. `memory` is
 * one process; `redis` is every instance. Writes resolve once stored, or reject with
 * StoreUnavailableError.
 */
export interface SignalStore {
  readonly kind: 'memory' | 'redis';
  readonly available: boolean;
  wasApplied(key: string): Promise<boolean>;
  markApplied(key: string, ttlMs: number): Promise<void>;
  /** Records `value` as the state of `key` at `at` unless a later state is recorded; true when recorded. */
  advance(key: string, at: number, value: string): Promise<boolean>;
  putBlock(block: SignalBlock): Promise<void>;
  removeBlock(id: string): Promise<void>;
  blocks(): Promise<SignalBlock[]>;
  /** Merges `patch` into the transmitter's state; `announce` tells every instance to reload. */
  patchTransmitter(name: string, patch: TransmitterState, announce: boolean): Promise<void>;
  transmitters(): Promise<Record<string, TransmitterState>>;
  /** A block or an announced transmitter state changed (on any instance, this one included). */
  onChange(listener: () => void): void;
  onReconnect(listener: () => void): void;
  /** Resolves once the first connection attempt has ended (bounded). */
  settled(): Promise<void>;
  close(): Promise<void>;
}
