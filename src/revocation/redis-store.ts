import type { Logger } from 'pino';
import { decodeChange } from '../store/change-message.js';
import type { FamilyLink } from '../store/family-link.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { RedisLink } from '../store/redis-link.js';
import { readSnapshot } from '../store/redis-snapshot.js';
import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationChange, RevocationStore } from './revocation-store.js';

// Every key carries the hash tag {rev}, so the scripts below touch one slot and work
// unchanged on Redis Cluster. The layout is documented in the README.
export function redisKeys(prefix: string) {
  return {
    records: `${prefix}{rev}:records`, // hash: id -> record JSON
    version: `${prefix}{rev}:version`, // counter bumped by every write
    audit: `${prefix}{rev}:audit`, // list of {op, at, by, record} JSON, newest last, capped
    channel: `${prefix}{rev}:changes`, // pub/sub: "<version> <RevocationChange JSON>"
  };
}

const AUDIT_CAP = 100_000;
// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

// Store, bump the version, keep the audit line and announce, all or nothing.
// KEYS: records, version, audit, channel. ARGV: id, record, audit line, change.
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

// KEYS: records, version, audit, channel. ARGV: id, audit line, change.
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

// Each id still expired at ARGV[1] is removed as REMOVE would, with a version and a message
// of its own. KEYS: records, version, audit, channel. ARGV: now, then per id: id, audit line, change.
const REMOVE_EXPIRED = `
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 3 do
  local existing = redis.call('HGET', KEYS[1], ARGV[i])
  if existing then
    local expiresAt = cjson.decode(existing).expiresAt
    if type(expiresAt) == 'number' and expiresAt <= now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      local version = redis.call('INCR', KEYS[2])
      redis.call('RPUSH', KEYS[3], ARGV[i + 1])
      redis.call('PUBLISH', KEYS[4], version .. ' ' .. ARGV[i + 2])
      removed = removed + 1
    end
  end
end
if removed > 0 then redis.call('LTRIM', KEYS[3], -${AUDIT_CAP}, -1) end
return removed
`;

function revocationScripts(family: FamilyLink) {
  return {
    add: family.writeScript<[number, string]>('pgRevocationAdd', 4, ADD),
    remove: family.writeScript<string | null>('pgRevocationRemove', 4, REMOVE),
    removeExpired: family.writeScript<number>('pgRevocationRemoveExpired', 4, REMOVE_EXPIRED),
  };
}

/**
 * Revocations shared by every instance, on the process's RedisLink: commands fail fast and are
 * bounded by the store's time-outs (a write that times out is never applied late), scripts are
 * registered once (EVALSHA), and availability is judged by this family's own commands.
 */
export class RedisRevocationStore implements RevocationStore {
  readonly kind = 'redis' as const;
  private readonly family: FamilyLink;
  private readonly keys: ReturnType<typeof redisKeys>;
  private readonly scripts: ReturnType<typeof revocationScripts>;
  private readonly logger: Logger;

  constructor(
    /** Read by a test that cuts exactly this subscriber off. */
    readonly link: RedisLink,
    options: { readonly prefix: string; readonly logger: Logger },
  ) {
    this.keys = redisKeys(options.prefix);
    this.family = link.family('revocation store');
    this.logger = options.logger;
    this.scripts = revocationScripts(this.family);
  }

  get available(): boolean {
    return this.family.available;
  }

  get unavailableReason(): string | undefined {
    return this.family.unavailableReason;
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  async list(): Promise<RevocationRecord[]> {
    const all = await this.family.run('write', () => this.link.client.hgetall(this.keys.records));
    return Object.values(all).map((json) => JSON.parse(json) as RevocationRecord);
  }

  snapshot(): Promise<Snapshot<RevocationRecord>> {
    return readSnapshot<RevocationRecord>(this.family, this.keys);
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const json = JSON.stringify(record);
    const audit = JSON.stringify({ op: 'add', at: record.at, by: record.by, record });
    const change = JSON.stringify({ op: 'add', record } satisfies RevocationChange);
    const k = this.keys;
    const [created, stored] = await this.scripts.add(
      k.records,
      k.version,
      k.audit,
      k.channel,
      record.id,
      json,
      audit,
      change,
    );
    return { record: JSON.parse(stored) as RevocationRecord, created: created === 1 };
  }

  async remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    const k = this.keys;
    const audit = JSON.stringify({ op: 'remove', at: new Date().toISOString(), by, id });
    const change = JSON.stringify({ op: 'remove', id } satisfies RevocationChange);
    const existing = await this.scripts.remove(k.records, k.version, k.audit, k.channel, id, audit, change);
    return existing === null ? undefined : (JSON.parse(existing) as RevocationRecord);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const k = this.keys;
    const at = new Date().toISOString();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const args: (string | number)[] = [now];
      for (const id of ids.slice(i, i + CHUNK)) {
        args.push(id, JSON.stringify({ op: 'remove', at, by: 'system', id }));
        args.push(JSON.stringify({ op: 'remove', id } satisfies RevocationChange));
      }
      await this.scripts.removeExpired(k.records, k.version, k.audit, k.channel, ...args);
    }
  }

  async version(): Promise<number> {
    return Number((await this.family.run('lookup', () => this.link.client.get(this.keys.version))) ?? 0);
  }

  /** The audit trail, newest last: every add and every removal with who and when. */
  async audit(limit = 1000): Promise<AuditEntry[]> {
    const lines = await this.family.run('write', () => this.link.client.lrange(this.keys.audit, -limit, -1));
    return lines.map((line) => JSON.parse(line) as AuditEntry);
  }

  settled(): Promise<void> {
    return this.family.settled();
  }

  subscribe(listener: (change: RevocationChange) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<RevocationRecord>(message);
      if (change === undefined) {
        this.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable revocation message');
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
