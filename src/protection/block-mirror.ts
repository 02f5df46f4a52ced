import type { BlockRecord, BlockTarget } from './block-record.js';

/**
 * The blocks as the request path reads them: one Map lookup per target, skipped when that Map
 * is empty; no I/O. Expiry is checked on read against the injected clock, so a block ends on
 * time even between sweeps.
 */
export class BlockMirror {
  private readonly byId = new Map<string, BlockRecord>();
  private readonly addresses = new Map<string, BlockRecord>();
  private readonly tokens = new Map<string, BlockRecord>();
  private readonly subjects = new Map<string, BlockRecord>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): BlockRecord | undefined {
    return this.byId.get(id);
  }

  address(address: string, now: number): BlockRecord | undefined {
    return this.addresses.size === 0 ? undefined : active(this.addresses.get(address), now);
  }

  token(fingerprint: string, now: number): BlockRecord | undefined {
    return this.tokens.size === 0 ? undefined : active(this.tokens.get(fingerprint), now);
  }

  /** `subject` as subjectValue() builds it. */
  subject(subject: string, now: number): BlockRecord | undefined {
    return this.subjects.size === 0 ? undefined : active(this.subjects.get(subject), now);
  }

  list(now: number): BlockRecord[] {
    return [...this.byId.values()].filter((b) => b.expiresAt > now);
  }

  apply(block: BlockRecord): void {
    const existing = this.byId.get(block.id);
    if (existing !== undefined && existing.expiresAt > block.expiresAt) return;
    this.byId.set(block.id, block);
    this.mapOf(block.target).set(block.value, block);
  }

  remove(id: string): BlockRecord | undefined {
    const block = this.byId.get(id);
    if (block === undefined) return undefined;
    this.byId.delete(id);
    this.mapOf(block.target).delete(block.value);
    return block;
  }

  replaceAll(blocks: Iterable<BlockRecord>): void {
    this.byId.clear();
    this.addresses.clear();
    this.tokens.clear();
    this.subjects.clear();
    for (const block of blocks) this.apply(block);
  }

  /** Forgets blocks that have run out; returns their ids. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const block of this.byId.values()) if (block.expiresAt <= now) gone.push(block.id);
    for (const id of gone) this.remove(id);
    return gone;
  }

  private mapOf(target: BlockTarget): Map<string, BlockRecord> {
    switch (target) {
      case 'address':
        return this.addresses;
      case 'token':
        return this.tokens;
      case 'subject':
        return this.subjects;
    }
  }
}

function active(block: BlockRecord | undefined, now: number): BlockRecord | undefined {
  return block !== undefined && block.expiresAt > now ? block : undefined;
}
