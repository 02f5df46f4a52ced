import type { Logger } from 'pino';
import { decodeChange } from '../store/change-message.js';
import type { FamilyLink } from '../store/family-link.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { RedisLink } from '../store/redis-link.js';
import { readSnapshot } from '../store/redis-snapshot.js';
import type { BlockRecord } from './block-record.js';
import type { BlockChange, BlockStore } from './block-store.js';
import {
  ADD_BLOCK,
  ADD_COUNTS,
  ADD_SIGHTINGS,
  REMOVE_BLOCK,
  REMOVE_EXPIRED_BLOCKS,
} from './redis-scripts.js';
import type { CountDelta, SharedTallies, Sighting, SightingTally } from './shared-tallies.js';

/**
 * Key layout (all under one hash tag, so it works unchanged on Redis Cluster):
 *   <prefix>{prot}:blocks                    hash: block id -> block JSON (expiresAt inside)
 *   <prefix>{prot}:blocks:version            counter bumped by every block write
 *   <prefix>{prot}:blocks:changes            pub/sub: "<version> <BlockChange JSON>"
 *   <prefix>{prot}:c:<family>:<window>:<key> integer counter, expires two windows after creation
 *                                            (family: rl:<rate limit name>, or fb for failure bursts)
 *   <prefix>{prot}:tr:<token fingerprint>    sorted set: client address -> last seen (ms)
 */
export function protectionKeys(prefix: string) {
  const tag = `${prefix}{prot}:`;
  return {
    blocks: `${tag}blocks`,
    version: `${tag}blocks:version`,
    channel: `${tag}blocks:changes`,
    counter: (name: string) => tag + name,
    sightings: (fingerprint: string) => `${tag}tr:${fingerprint}`,
  };
}

// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

function protectionScripts(family: FamilyLink) {
  return {
    addBlock: family.writeScript<[number, string]>('pgAddBlock', 3, ADD_BLOCK),
    removeBlock: family.writeScript<string | null>('pgRemoveBlock', 3, REMOVE_BLOCK),
    removeExpired: family.writeScript<number>('pgRemoveExpiredBlocks', 3, REMOVE_EXPIRED_BLOCKS),
    // Their keys vary per call: the first argument says how many.
    addCounts: family.writeScript<number[]>('pgAddCounts', undefined, ADD_COUNTS),
    addSightings: family.writeScript<[number, string[]?][]>('pgAddSightings', undefined, ADD_SIGHTINGS),
  };
}

/**
 * Blocks and cluster-wide tallies in Redis, on the process's RedisLink. Commands fail fast while
 * disconnected and are bounded by the store's time-outs: callers keep their state in memory and
 * send it again later.
 */
export class RedisProtectionStore implements BlockStore, SharedTallies {
  readonly kind = 'redis' as const;
  private readonly family: FamilyLink;
  private readonly keys: ReturnType<typeof protectionKeys>;
  private readonly scripts: ReturnType<typeof protectionScripts>;

  constructor(
    readonly link: RedisLink,
    private readonly options: { readonly prefix: string; readonly logger: Logger },
  ) {
    this.keys = protectionKeys(options.prefix);
    this.family = link.family('protection store');
    this.scripts = protectionScripts(this.family);
  }

  get available(): boolean {
    return this.family.available;
  }

  get unavailableReason(): string | undefined {
    return this.family.unavailableReason;
  }

  settled(): Promise<void> {
    return this.family.settled();
  }

  /** Resolves once connected; rejects after `timeoutMs`. For the CLI, which has one thing to do. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  async list(now: number): Promise<BlockRecord[]> {
    const all = await this.family.run('write', () => this.link.client.hgetall(this.keys.blocks));
    return Object.values(all)
      .map((json) => JSON.parse(json) as BlockRecord)
      .filter((b) => b.expiresAt > now);
  }

  snapshot(): Promise<Snapshot<BlockRecord>> {
    return readSnapshot<BlockRecord>(this.family, { version: this.keys.version, records: this.keys.blocks });
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'add', record: block } satisfies BlockChange);
    const [changed, stored] = await this.scripts.addBlock(
      k.blocks,
      k.version,
      k.channel,
      block.id,
      JSON.stringify(block),
      block.expiresAt,
      now,
      change,
    );
    return { block: JSON.parse(stored) as BlockRecord, changed: changed === 1 };
  }

  async remove(id: string): Promise<BlockRecord | undefined> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'remove', id } satisfies BlockChange);
    const existing = await this.scripts.removeBlock(k.blocks, k.version, k.channel, id, change);
    return existing === null ? undefined : (JSON.parse(existing) as BlockRecord);
  }

  async version(): Promise<number> {
    return Number((await this.family.run('lookup', () => this.link.client.get(this.keys.version))) ?? 0);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const k = this.keys;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const args: (string | number)[] = [now];
      for (const id of ids.slice(i, i + CHUNK)) {
        args.push(id, JSON.stringify({ op: 'remove', id } satisfies BlockChange));
      }
      await this.scripts.removeExpired(k.blocks, k.version, k.channel, ...args);
    }
  }

  async addCounts(batch: readonly CountDelta[]): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const d of part) args.push(this.keys.counter(d.key));
      for (const d of part) args.push(d.delta, d.ttlMs);
      totals.push(...(await this.scripts.addCounts(...args)));
    }
    return totals;
  }

  async addSightings(batch: readonly Sighting[]): Promise<SightingTally[]> {
    const tallies: SightingTally[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const s of part) args.push(this.keys.sightings(s.fingerprint));
      for (const s of part) args.push(s.address, s.at, s.windowMs, s.maxAddresses);
      for (const [n, evidence] of await this.scripts.addSightings(...args)) {
        tallies.push({ addresses: n, evidence: evidence ?? [] });
      }
    }
    return tallies;
  }

  subscribe(listener: (change: BlockChange) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<BlockRecord>(message);
      if (change === undefined) {
        this.options.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable block message');
        return;
      }
      listener(change);
    });
  }

  onReconnect(listener: () => void): () => void {
    return this.family.onReconnect(listener);
  }

  async close(): Promise<void> {
    this.family.close();
  }
}
