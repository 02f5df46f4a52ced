import type { Mirror } from '../store/mirrored-store.js';
import type { CompiledTransmitter } from './compile-signals.js';
import {
  type SignalBlock,
  type SignalRecord,
  type TransmitterState,
  transmitterRecordId,
} from './signal-store.js';

/**
 * The signal family as the request path reads it: blocks by subject, and per governed issuer the
 * token age a fail-closed transmitter with its stream down allows. Map lookups, no I/O. Kept equal
 * to the store by the one MirrorSync (its Mirror: apply, remove, replaceAll, expire).
 */
export class SignalMirror implements Mirror<SignalRecord> {
  private readonly records = new Map<string, SignalRecord>();
  private readonly bySubject = new Map<string, SignalBlock[]>();
  /** Issuer id -> the shortest maxTokenAgeSeconds of a fail-closed transmitter whose stream is down. */
  private caps = new Map<string, number>();

  constructor(private readonly transmitters: readonly CompiledTransmitter[]) {}

  /** Whether any block is in force: the request path asks nothing more while none is. */
  get hasBlocks(): boolean {
    return this.bySubject.size > 0;
  }

  get hasDownStreams(): boolean {
    return this.caps.size > 0;
  }

  blocksOf(issuerId: string, sub: string): readonly SignalBlock[] | undefined {
    return this.bySubject.get(subjectKey(issuerId, sub));
  }

  downCapOf(issuerId: string): number | undefined {
    return this.caps.get(issuerId);
  }

  block(id: string): SignalBlock | undefined {
    const record = this.records.get(id);
    return record?.type === 'block' ? record.block : undefined;
  }

  blocks(): SignalBlock[] {
    return [...this.bySubject.values()].flat();
  }

  transmitter(name: string): TransmitterState | undefined {
    const record = this.records.get(transmitterRecordId(name));
    return record?.type === 'transmitter' ? record.state : undefined;
  }

  apply(record: SignalRecord): void {
    const old = this.records.get(record.id);
    if (old?.type === 'block') this.unindex(old.block);
    this.records.set(record.id, record);
    if (record.type === 'block') this.index(record.block);
    if (record.type === 'transmitter' || old?.type === 'transmitter') this.recomputeCaps();
  }

  remove(id: string): SignalRecord | undefined {
    const old = this.records.get(id);
    if (old === undefined) return undefined;
    this.records.delete(id);
    if (old.type === 'block') this.unindex(old.block);
    else this.recomputeCaps();
    return old;
  }

  replaceAll(records: Iterable<SignalRecord>): void {
    this.records.clear();
    this.bySubject.clear();
    for (const record of records) {
      this.records.set(record.id, record);
      if (record.type === 'block') this.index(record.block);
    }
    this.recomputeCaps();
  }

  /** Blocks last until a signal or an operator lifts them; states do not run out either. */
  expire(_now: number): string[] {
    return [];
  }

  private index(block: SignalBlock): void {
    const key = subjectKey(block.issuerId, block.sub);
    const list = this.bySubject.get(key);
    if (list === undefined) this.bySubject.set(key, [block]);
    else list.push(block);
  }

  private unindex(block: SignalBlock): void {
    const key = subjectKey(block.issuerId, block.sub);
    const rest = (this.bySubject.get(key) ?? []).filter((b) => b.id !== block.id);
    if (rest.length === 0) this.bySubject.delete(key);
    else this.bySubject.set(key, rest);
  }

  private recomputeCaps(): void {
    const caps = new Map<string, number>();
    for (const t of this.transmitters) {
      const stream = this.transmitter(t.name)?.stream;
      if (stream !== 'paused' && stream !== 'disabled') continue;
      if (t.onStreamDown !== 'fail-closed' || t.maxTokenAgeSeconds === undefined) continue;
      for (const issuerId of t.governs)
        caps.set(issuerId, Math.min(caps.get(issuerId) ?? Infinity, t.maxTokenAgeSeconds));
    }
    this.caps = caps;
  }
}

function subjectKey(issuerId: string, sub: string): string {
  return `${issuerId}\u0000${sub}`;
}
