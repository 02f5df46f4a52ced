import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { type RedisClient, RedisLink } from '../store/redis-link.js';
import type { BlockRecord } from './block-record.js';
import type { BlockChange, BlockStore } from './block-store.js';
import { ADD_BLOCK, ADD_COUNTS, ADD_SIGHTINGS, PRUNE_BLOCKS, REMOVE_BLOCK } from './redis-scripts.js';
import type { CountDelta, SharedTallies, Sighting, SightingTally } from './shared-tallies.js';

/**
 * Key layout (all under one hash tag, so it works unchanged on Redis Cluster):
 *   <prefix>{prot}:blocks                    hash: block id -> block JSON (expiresAt inside)
 *   <prefix>{prot}:blocks:version            counter bumped by every block write
 *   <prefix>{prot}:blocks:changes            pub/sub: BlockChange JSON
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

type ScriptClient = RedisClient & {
  pgAddBlock(...args: (string | number)[]): Promise<[number, string]>;
  pgRemoveBlock(...args: string[]): Promise<string | null>;
  pgPruneBlocks(...args: (string | number)[]): Promise<number>;
  pgAddCounts(...args: (string | number)[]): Promise<number[]>;
  pgAddSightings(...args: (string | number)[]): Promise<[number, string[]?][]>;
};

/**
 * Blocks and cluster-wide tallies in Redis. Like the revocation store, commands fail fast while
 * disconnected (no offline queue): callers keep their state in memory and send it again later.
 */
export class RedisProtectionStore implements BlockStore, SharedTallies {
  readonly kind = 'redis' as const;
  private readonly link: RedisLink;
  private readonly client: ScriptClient;
  private readonly keys: ReturnType<typeof protectionKeys>;
  private readonly changeListeners: ((change: BlockChange) => void)[] = [];

  constructor(
    config: StoreConfig,
    private readonly logger: Logger,
  ) {
    this.keys = protectionKeys(config.prefix);
    this.link = new RedisLink(config, logger, {
      name: 'protection store',
      channel: this.keys.channel,
      onMessage: (message) => this.onMessage(message),
    });
    this.client = this.link.client as ScriptClient;
    this.client.defineCommand('pgAddBlock', { numberOfKeys: 3, lua: ADD_BLOCK });
    this.client.defineCommand('pgRemoveBlock', { numberOfKeys: 3, lua: REMOVE_BLOCK });
    this.client.defineCommand('pgPruneBlocks', { numberOfKeys: 2, lua: PRUNE_BLOCKS });
    this.client.defineCommand('pgAddCounts', { lua: ADD_COUNTS });
    this.client.defineCommand('pgAddSightings', { lua: ADD_SIGHTINGS });
  }

  get available(): boolean {
    return this.link.available;
  }

  settled(): Promise<void> {
    return this.link.settled();
  }

  /** Resolves once connected; rejects after `timeoutMs`. For the CLI, which has one thing to do. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.link.waitUntilReady(timeoutMs);
  }

  async list(now: number): Promise<BlockRecord[]> {
    const all = await this.link.run(() => this.client.hgetall(this.keys.blocks));
    return Object.values(all)
      .map((json) => JSON.parse(json) as BlockRecord)
      .filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'add', block } satisfies BlockChange);
    const [changed, stored] = await this.link.run(() =>
      this.client.pgAddBlock(
        k.blocks,
        k.version,
        k.channel,
        block.id,
        JSON.stringify(block),
        block.expiresAt,
        now,
        change,
      ),
    );
    return { block: JSON.parse(stored) as BlockRecord, changed: changed === 1 };
  }

  async remove(id: string): Promise<BlockRecord | undefined> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'remove', id } satisfies BlockChange);
    const existing = await this.link.run(() =>
      this.client.pgRemoveBlock(k.blocks, k.version, k.channel, id, change),
    );
    return existing === null ? undefined : (JSON.parse(existing) as BlockRecord);
  }

  async version(): Promise<number> {
    return Number((await this.link.run(() => this.client.get(this.keys.version))) ?? 0);
  }

  async prune(now: number): Promise<void> {
    await this.link.run(() => this.client.pgPruneBlocks(this.keys.blocks, this.keys.version, now));
  }

  async addCounts(batch: readonly CountDelta[]): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const d of part) args.push(this.keys.counter(d.key));
      for (const d of part) args.push(d.delta, d.ttlMs);
      totals.push(...(await this.link.run(() => this.client.pgAddCounts(...args))));
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
      for (const [n, evidence] of await this.link.run(() => this.client.pgAddSightings(...args))) {
        tallies.push({ addresses: n, evidence: evidence ?? [] });
      }
    }
    return tallies;
  }

  subscribe(listener: (change: BlockChange) => void): void {
    this.changeListeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.link.onReconnect(listener);
  }

  async close(): Promise<void> {
    this.link.close();
  }

  private onMessage(message: string): void {
    let change: BlockChange;
    try {
      change = JSON.parse(message) as BlockChange;
    } catch {
      this.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable block message');
      return;
    }
    for (const listener of this.changeListeners) listener(change);
  }
}
