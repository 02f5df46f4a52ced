import type { Logger } from 'pino';
import { MirrorSync } from '../store/mirror-sync.js';
import type { CompiledTransmitter } from './compile-signals.js';
import { SignalMirror } from './signal-mirror.js';
import type { SignalBlock, SignalRecord, SignalStore, TransmitterState } from './signal-store.js';

export interface SignalStateOptions {
  readonly store: SignalStore;
  readonly transmitters: readonly CompiledTransmitter[];
  readonly logger: Logger;
  /** Epoch ms. */
  readonly clock: () => number;
  /** How often the mirror is compared with the store, in case a change message was missed. */
  readonly resyncMs: number;
}

/**
 * The signal family: the mirror the request path reads, kept equal to the store by the one
 * MirrorSync, and its write policy, store-first throughout. A block or a stream state from a SET
 * is acknowledged to the transmitter only once stored (a 202 means stored, so a retry is never
 * owed by us), and an operator's lift answers only once stored; so nothing is ever pending. A
 * write holds here as soon as it is stored; the other instances hear it by its versioned message.
 */
export class SignalState {
  readonly mirror: SignalMirror;
  private readonly syncer: MirrorSync<SignalRecord>;

  constructor(private readonly options: SignalStateOptions) {
    this.mirror = new SignalMirror(options.transmitters);
    this.syncer = new MirrorSync(
      options.store,
      this.mirror,
      // Store-first: nothing is owed to the store, and nothing kept beyond what it holds.
      { flushPending: async () => {}, reinstate: async () => [] },
      {
        family: 'signal',
        awayMessage: 'signal store unavailable; serving the last known signal blocks and stream states',
        logger: options.logger,
        clock: options.clock,
        resyncMs: options.resyncMs,
      },
    );
  }

  get store(): SignalStore {
    return this.options.store;
  }

  start(): Promise<void> {
    return this.syncer.start();
  }

  async stop(): Promise<void> {
    await this.syncer.stop();
    await this.options.store.close();
  }

  /** Brings the mirror up to the store (a version check; a reload only when messages were missed). */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  /** Seconds since the mirror was last known to equal the store. */
  staleSeconds(): number {
    return this.syncer.staleSeconds();
  }

  async putBlock(block: SignalBlock): Promise<void> {
    this.syncer.applyStored(await this.options.store.putBlock(block));
  }

  /** False: the store held no such block (lifted meanwhile, here or elsewhere). */
  async removeBlock(id: string): Promise<boolean> {
    const change = await this.options.store.removeBlock(id);
    // Not stored: its removal's message is on its way, or missed and found by the version check.
    if (change === undefined) return false;
    this.syncer.applyStored(change);
    return true;
  }

  async patchTransmitter(name: string, patch: TransmitterState): Promise<void> {
    this.syncer.applyStored(await this.options.store.patchTransmitter(name, patch));
  }

  wasApplied(key: string): Promise<boolean> {
    return this.options.store.wasApplied(key);
  }

  markApplied(key: string, ttlMs: number): Promise<void> {
    return this.options.store.markApplied(key, ttlMs);
  }

  /** Store-side, not mirrored: the state must count once across instances, so the store decides. */
  expectVerification(transmitter: string, state: string, ttlMs: number): Promise<void> {
    return this.options.store.expectVerification(transmitter, state, ttlMs);
  }

  consumeVerification(transmitter: string, state: string): Promise<boolean> {
    return this.options.store.consumeVerification(transmitter, state);
  }

  advance(key: string, at: number, value: string): Promise<boolean> {
    return this.options.store.advance(key, at, value);
  }
}
