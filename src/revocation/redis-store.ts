import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import type { RevocationRecord } from './revocation-record.js';
import {
  type AuditEntry,
  type RevocationChange,
  type RevocationStore,
  StoreUnavailableError,
} from './revocation-store.js';

// Every key carries the hash tag {rev}, so the scripts below touch one slot and work
// unchanged on Redis Cluster. The layout is documented in the README.
export function redisKeys(prefix: string) {
  return {
    records: `${prefix}{rev}:records`, // hash: id -> record JSON
    version: `${prefix}{rev}:version`, // counter bumped by every write
    audit: `${prefix}{rev}:audit`, // list of {op, at, by, record} JSON, newest last, capped
    channel: `${prefix}{rev}:changes`, // pub/sub: RevocationChange JSON
  };
}

const AUDIT_CAP = 100_000;
// Longest a start waits for the first connection attempt (ioredis' connectTimeout is 2 s here).
const FIRST_CONTACT_MAX_MS = 5000;

// Store, bump the version, keep the audit line and announce, all or nothing.
const ADD = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {0, existing} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -${AUDIT_CAP}, -1)
redis.call('PUBLISH', KEYS[4], version .. ' ' .. ARGV[4])
return {1, ARGV[2]}
`;

const REMOVE = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], -${AUDIT_CAP}, -1)
redis.call('PUBLISH', KEYS[4], version .. ' ' .. ARGV[3])
return existing
`;

type Client = Redis | Cluster;

/**
 * Revocations shared by every instance. Commands fail fast while disconnected (no offline
 * queue) so that a write is either stored or refused, never queued and forgotten.
 */
export class RedisRevocationStore implements RevocationStore {
  readonly kind = 'redis' as const;
  available = false;
  unavailableReason: string | undefined = 'connecting';
  private readonly client: Client;
  private readonly subscriber: Client;
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly changeListeners: ((change: RevocationChange) => void)[] = [];
  private readonly reconnectListeners: (() => void)[] = [];
  private closed = false;
  private readonly firstContact: Promise<void>;

  constructor(
    config: StoreConfig,
    private readonly logger: Logger,
  ) {
    this.keys = redisKeys(config.prefix);
    this.client = connect(config);
    this.subscriber = connect(config);
    this.firstContact = new Promise((resolve) => {
      const done = () => resolve();
      for (const event of ['ready', 'error', 'close']) this.client.once(event, done);
      setTimeout(done, FIRST_CONTACT_MAX_MS).unref();
    });
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (err: Error) => this.markDown(err.message));
    this.client.on('close', () => this.markDown('connection closed'));
    this.subscriber.on('error', () => {});
    this.subscriber.on('ready', () => {
      // A change published before this (re)subscription took hold is found by resyncing now,
      // not at the next periodic check.
      this.subscriber
        .subscribe(this.keys.channel)
        .then(() => {
          if (this.available) for (const listener of this.reconnectListeners) listener();
        })
        .catch(() => {});
    });
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
  }

  /** Resolves once connected; rejects after `timeoutMs` with the reason Redis gave. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.available) {
      if (Date.now() > deadline)
        throw new StoreUnavailableError(`redis not reachable: ${this.unavailableReason}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async list(): Promise<RevocationRecord[]> {
    const all = await this.run(() => this.client.hgetall(this.keys.records));
    return Object.values(all).map((json) => JSON.parse(json) as RevocationRecord);
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const json = JSON.stringify(record);
    const audit = JSON.stringify({ op: 'add', at: record.at, by: record.by, record });
    const change = JSON.stringify({ op: 'add', record } satisfies RevocationChange);
    const k = this.keys;
    const [created, stored] = (await this.run(() =>
      this.client.eval(ADD, 4, k.records, k.version, k.audit, k.channel, record.id, json, audit, change),
    )) as [number, string];
    return { record: JSON.parse(stored) as RevocationRecord, created: created === 1 };
  }

  async remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    const k = this.keys;
    const audit = JSON.stringify({ op: 'remove', at: new Date().toISOString(), by, id });
    const change = JSON.stringify({ op: 'remove', id } satisfies RevocationChange);
    const existing = (await this.run(() =>
      this.client.eval(REMOVE, 4, k.records, k.version, k.audit, k.channel, id, audit, change),
    )) as string | null;
    return existing === null ? undefined : (JSON.parse(existing) as RevocationRecord);
  }

  async version(): Promise<number> {
    return Number((await this.run(() => this.client.get(this.keys.version))) ?? 0);
  }

  /** The audit trail, newest last: every add and every removal with who and when. */
  async audit(limit = 1000): Promise<AuditEntry[]> {
    const lines = await this.run(() => this.client.lrange(this.keys.audit, -limit, -1));
    return lines.map((line) => JSON.parse(line) as AuditEntry);
  }

  settled(): Promise<void> {
    return this.firstContact;
  }

  subscribe(listener: (change: RevocationChange) => void): void {
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
    let change: RevocationChange;
    try {
      // "<version> <change JSON>": the version lets a listener that saw every change skip
      // the periodic full reload.
      const space = message.indexOf(' ');
      const version = Number(message.slice(0, space));
      change = { ...(JSON.parse(message.slice(space + 1)) as RevocationChange), version };
    } catch {
      this.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable revocation message');
      return;
    }
    for (const listener of this.changeListeners) listener(change);
  }

  // A Cluster stays 'ready' while the master of the {rev} slot is dead (its other masters
  // answer), so connection events alone would report a store that refuses every command as
  // available. The outcome of each command says it too.
  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('store closed');
    try {
      const result = await command();
      if (!this.available && this.client.status === 'ready') this.markUp();
      return result;
    } catch (err) {
      this.markDown((err as Error).message);
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`, { cause: err });
    }
  }

  private markUp(): void {
    const wasDown = !this.available;
    this.available = true;
    this.unavailableReason = undefined;
    if (wasDown) {
      this.logger.info({ event: 'store.connected', store: 'redis' }, 'revocation store connected');
      for (const listener of this.reconnectListeners) listener();
    }
  }

  private markDown(why: string): void {
    if (this.closed) return;
    if (this.available)
      this.logger.warn({ event: 'store.unavailable', store: 'redis', why }, 'revocation store lost');
    this.available = false;
    this.unavailableReason = why;
  }
}

/** One ioredis client as the store settings describe it (also used by the protection store). */
export function connect(config: StoreConfig): Client {
  const extra = (config.redisOptions ?? {}) as RedisOptions & { cluster?: ClusterNode[] };
  const { cluster, ...rest } = extra;
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Keep trying forever, at most once a second: Redis coming back must be noticed.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    ...rest,
  };
  if (cluster !== undefined) {
    return new Cluster(cluster, {
      enableOfflineQueue: false,
      redisOptions: common,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  }
  return config.url !== undefined ? new Redis(config.url, common) : new Redis(common);
}
