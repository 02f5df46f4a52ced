import { MemoryFamilyStore } from '../store/memory-family-store.js';
import {
  type SignalBlock,
  type SignalChange,
  type SignalRecord,
  type SignalStore,
  type TransmitterState,
  transmitterRecordId,
  verificationKey,
} from './signal-store.js';

// A flood of distinct SETs cannot grow the applied-SET memory past this; the oldest go first.
const APPLIED_CAP = 100_000;
// Verifications asked for and not yet answered: an operator's requests, few; the oldest go first.
const VERIFICATION_CAP = 1000;

/**
 * One process, no Redis: the embedded default. Nothing of the family expires (its records carry
 * no expiresAt), so removeExpired never finds one to remove.
 */
export class MemorySignalStore extends MemoryFamilyStore<SignalRecord> implements SignalStore {
  private readonly applied = new Map<string, number>();
  private readonly states = new Map<string, { at: number; value: string }>();
  private readonly verifications = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {
    super();
  }

  async wasApplied(key: string): Promise<boolean> {
    const until = this.applied.get(key);
    if (until === undefined) return false;
    if (until > this.clock()) return true;
    this.applied.delete(key);
    return false;
  }

  async markApplied(key: string, ttlMs: number): Promise<void> {
    this.applied.delete(key);
    this.applied.set(key, this.clock() + ttlMs);
    if (this.applied.size > APPLIED_CAP) this.applied.delete(this.applied.keys().next().value!);
  }

  async advance(key: string, at: number, value: string): Promise<boolean> {
    const current = this.states.get(key);
    if (current !== undefined && current.at > at) return false;
    this.states.set(key, { at, value });
    return true;
  }

  async expectVerification(transmitter: string, state: string, ttlMs: number): Promise<void> {
    const key = verificationKey(transmitter, state);
    this.verifications.delete(key);
    this.verifications.set(key, this.clock() + ttlMs);
    if (this.verifications.size > VERIFICATION_CAP)
      this.verifications.delete(this.verifications.keys().next().value!);
  }

  async consumeVerification(transmitter: string, state: string): Promise<boolean> {
    const key = verificationKey(transmitter, state);
    const until = this.verifications.get(key);
    this.verifications.delete(key);
    return until !== undefined && until > this.clock();
  }

  async putBlock(block: SignalBlock): Promise<SignalChange> {
    return this.put({ id: block.id, type: 'block', block });
  }

  async removeBlock(id: string): Promise<SignalChange | undefined> {
    if (this.records.get(id)?.type !== 'block') return undefined;
    this.records.delete(id);
    return { op: 'remove', id, version: await this.records.version() };
  }

  async patchTransmitter(name: string, patch: TransmitterState): Promise<SignalChange> {
    const id = transmitterRecordId(name);
    const current = this.records.get(id);
    const state = current?.type === 'transmitter' ? current.state : {};
    return this.put({ id, type: 'transmitter', name, state: { ...state, ...patch } });
  }

  private put(record: SignalRecord): SignalChange {
    return { op: 'add', record, version: this.records.put(record) };
  }
}
