import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { connect } from '../revocation/redis-store.js';
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

const FIRST_CONTACT_MAX_MS = 5000;

// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

type Client = ReturnType<typeof connect>;
type ScriptClient = Client & {
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
  available = false;
  private readonly client: ScriptClient;
  private readonly subscriber: Client;
  private readonly keys: ReturnType<typeof protectionKeys>;
  private readonly changeListeners: ((change: BlockChange) => void)[] = [];
  private readonly reconnectListeners: (() => void)[] = [];
  private closed = false;
  private readonly firstContact: Promise<void>;

  constructor(
    config: StoreConfig,
    private readonly logger: Logger,
  ) {
    this.keys = protectionKeys(config.prefix);
    this.client = connect(config) as ScriptClient;
    this.subscriber = connect(config);
    // defineCommand sends EVALSHA, and the script text only when Redis does not have it yet.
    this.client.defineCommand('pgAddBlock', { numberOfKeys: 3, lua: ADD_BLOCK });
    this.client.defineCommand('pgRemoveBlock', { numberOfKeys: 3, lua: REMOVE_BLOCK });
    this.client.defineCommand('pgPruneBlocks', { numberOfKeys: 2, lua: PRUNE_BLOCKS });
    this.client.defineCommand('pgAddCounts', { lua: ADD_COUNTS });
    this.client.defineCommand('pgAddSightings', { lua: ADD_SIGHTINGS });
    // First contact: the command client answered and the subscription is in place (or either
    // failed), so that a gateway reported started also hears every block made after that.
    const contact = (client: Client, ready: Promise<unknown>) =>
      new Promise<void>((resolve) => {
        const done = () => resolve();
        ready.then(done, done);
        for (const event of ['error', 'close']) client.once(event, done);
        setTimeout(done, FIRST_CONTACT_MAX_MS).unref();
      });
    // ioredis subscribes again by itself after a reconnect (autoResubscribe).
    const subscribed = new Promise((resolve) => {
      this.subscriber.once('ready', () =>
        this.subscriber.subscribe(this.keys.channel).then(resolve, resolve),
      );
    });
    const ready = new Promise((resolve) => this.client.once('ready', resolve));
    this.firstContact = Promise.all([contact(this.client, ready), contact(this.subscriber, subscribed)]).then(
      () => {},
    );
    this.client.on('ready', () => {
      const wasDown = !this.available;
      this.available = true;
      if (wasDown) for (const listener of this.reconnectListeners) listener();
    });
    const down = (why: string) => {
      if (this.closed) return;
      if (this.available)
        this.logger.warn({ event: 'store.unavailable', store: 'redis', why }, 'protection store lost');
      this.available = false;
    };
    this.client.on('error', (err: Error) => down(err.message));
    this.client.on('close', () => down('connection closed'));
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
  }

  settled(): Promise<void> {
    return this.firstContact;
  }

  /** Resolves once connected; rejects after `timeoutMs`. For the CLI, which has one thing to do. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.available) {
      if (Date.now() > deadline) throw new Error('redis not reachable');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async list(now: number): Promise<BlockRecord[]> {
    const all = await this.client.hgetall(this.keys.blocks);
    return Object.values(all)
      .map((json) => JSON.parse(json) as BlockRecord)
      .filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'add', block } satisfies BlockChange);
    const [changed, stored] = await this.client.pgAddBlock(
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
    const existing = await this.client.pgRemoveBlock(k.blocks, k.version, k.channel, id, change);
    return existing === null ? undefined : (JSON.parse(existing) as BlockRecord);
  }

  async version(): Promise<number> {
    return Number((await this.client.get(this.keys.version)) ?? 0);
  }

  async prune(now: number): Promise<void> {
    await this.client.pgPruneBlocks(this.keys.blocks, this.keys.version, now);
  }

  async addCounts(batch: readonly CountDelta[]): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const d of part) args.push(this.keys.counter(d.key));
      for (const d of part) args.push(d.delta, d.ttlMs);
      totals.push(...(await this.client.pgAddCounts(...args)));
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
      for (const [n, evidence] of await this.client.pgAddSightings(...args)) {
        tallies.push({ addresses: n, evidence: evidence ?? [] });
      }
    }
    return tallies;
  }

  subscribe(listener: (change: BlockChange) => void): void {
    this.changeListeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.disconnect();
    this.subscriber.disconnect();
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
