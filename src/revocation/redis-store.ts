import type { Logger } from 'pino';
import type { StoreConfig } from '../config/schema.js';
import { type RedisClient, RedisLink } from '../store/redis-link.js';
import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationChange, RevocationStore } from './revocation-store.js';

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

/**
 * Revocations shared by every instance, on a RedisLink (fail-fast commands, availability
 * judged by each command's outcome too).
 */
export class RedisRevocationStore implements RevocationStore {
  readonly kind = 'redis' as const;
  private readonly link: RedisLink;
  private readonly client: RedisClient;
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly changeListeners: ((change: RevocationChange) => void)[] = [];

  constructor(config: StoreConfig, logger: Logger) {
    this.keys = redisKeys(config.prefix);
    this.link = new RedisLink(config, logger, {
      name: 'revocation store',
      channel: this.keys.channel,
      onMessage: (message) => this.onMessage(message, logger),
    });
    this.client = this.link.client;
  }

  get available(): boolean {
    return this.link.available;
  }

  get unavailableReason(): string | undefined {
    return this.link.unavailableReason;
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.link.waitUntilReady(timeoutMs);
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
    return this.link.settled();
  }

  subscribe(listener: (change: RevocationChange) => void): void {
    this.changeListeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.link.onReconnect(listener);
  }

  async close(): Promise<void> {
    this.link.close();
  }

  private onMessage(message: string, logger: Logger): void {
    let change: RevocationChange;
    try {
      // "<version> <change JSON>": the version lets a listener that saw every change skip
      // the periodic full reload.
      const space = message.indexOf(' ');
      const version = Number(message.slice(0, space));
      change = { ...(JSON.parse(message.slice(space + 1)) as RevocationChange), version };
    } catch {
      logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable revocation message');
      return;
    }
    for (const listener of this.changeListeners) listener(change);
  }

  private run<T>(command: () => Promise<T>): Promise<T> {
    return this.link.run(command);
  }
}
