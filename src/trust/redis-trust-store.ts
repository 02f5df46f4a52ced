import type { Logger } from 'pino';
import type { TrustRecord } from '../keys/trust-record.js';
import { decodeChange } from '../store/change-message.js';
import type { FamilyLink } from '../store/family-link.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { RedisLink } from '../store/redis-link.js';
import { readSnapshot } from '../store/redis-snapshot.js';
import type { TrustAuditEntry, TrustChange, TrustStore, TrustWriteMode } from './trust-store.js';

// Every key carries the hash tag {trust}, so each script touches one slot and works unchanged on
// Redis Cluster. The layout is documented in the README.
export function trustKeys(prefix: string) {
  return {
    records: `${prefix}{trust}:records`, // hash: id -> TrustRecord JSON
    version: `${prefix}{trust}:version`, // counter bumped by every write
    audit: `${prefix}{trust}:audit`, // list of {op, at, by, record | id} JSON, newest last, capped
    channel: `${prefix}{trust}:changes`, // pub/sub: "<version> <TrustChange JSON>"
  };
}

const AUDIT_CAP = 100_000;

// Store as the mode allows, bump the version, keep the audit line and announce, all or nothing.
// KEYS: records, version, audit, channel. ARGV: id, record, audit line, change, mode.
const PUT = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
local mode = ARGV[5]
if mode == 'if-absent' and existing then return {0, existing} end
if mode == 'if-quarantined' and (not existing or cjson.decode(existing).state ~= 'quarantined') then
  return {0, existing or ''}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], -${AUDIT_CAP}, -1)
redis.call('PUBLISH', KEYS[4], version .. ' ' .. ARGV[4])
return {1, ARGV[2]}
`;

// Only a quarantine record: a decision is never forgotten because its key left the set.
// KEYS: records, version, audit, channel. ARGV: id, audit line, change.
const REMOVE_QUARANTINED = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing or cjson.decode(existing).state ~= 'quarantined' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], -${AUDIT_CAP}, -1)
redis.call('PUBLISH', KEYS[4], version .. ' ' .. ARGV[3])
return 1
`;

function trustScripts(family: FamilyLink) {
  return {
    put: family.writeScript<[number, string]>('pgTrustPut', 4, PUT),
    removeQuarantined: family.writeScript<number>('pgTrustRemoveQuarantined', 4, REMOVE_QUARANTINED),
  };
}

/**
 * Key trust decisions shared by every instance, on the process's RedisLink: commands bounded by
 * the store's time-outs (a write that times out is never applied late), scripts registered once
 * (EVALSHA), availability judged by this family's own commands.
 */
export class RedisTrustStore implements TrustStore {
  readonly kind = 'redis' as const;
  private readonly family: FamilyLink;
  private readonly keys: ReturnType<typeof trustKeys>;
  private readonly scripts: ReturnType<typeof trustScripts>;

  constructor(
    readonly link: RedisLink,
    private readonly options: { readonly prefix: string; readonly logger: Logger },
  ) {
    this.keys = trustKeys(options.prefix);
    this.family = link.family('trust store');
    this.scripts = trustScripts(this.family);
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

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  snapshot(): Promise<Snapshot<TrustRecord>> {
    return readSnapshot<TrustRecord>(this.family, this.keys);
  }

  async put(
    record: TrustRecord,
    mode: TrustWriteMode,
  ): Promise<{ record: TrustRecord | undefined; written: boolean }> {
    const k = this.keys;
    const json = JSON.stringify(record);
    const audit = JSON.stringify({
      op: 'put',
      at: record.at,
      by: record.by,
      record,
    } satisfies TrustAuditEntry);
    const change = JSON.stringify({ op: 'add', record } satisfies TrustChange);
    const [written, stored] = await this.scripts.put(
      k.records,
      k.version,
      k.audit,
      k.channel,
      record.id,
      json,
      audit,
      change,
      mode,
    );
    return {
      record: stored === '' ? undefined : (JSON.parse(stored) as TrustRecord),
      written: written === 1,
    };
  }

  async removeQuarantined(id: string, by: string): Promise<boolean> {
    const k = this.keys;
    const audit = JSON.stringify({
      op: 'remove',
      at: new Date().toISOString(),
      by,
      id,
    } satisfies TrustAuditEntry);
    const change = JSON.stringify({ op: 'remove', id } satisfies TrustChange);
    return (
      (await this.scripts.removeQuarantined(k.records, k.version, k.audit, k.channel, id, audit, change)) ===
      1
    );
  }

  /** Trust records carry no expiry (TrustIndex.expire drops nothing): nothing to remove. */
  async removeExpired(_ids: readonly string[], _now: number): Promise<void> {}

  async version(): Promise<number> {
    return Number((await this.family.run('lookup', () => this.link.client.get(this.keys.version))) ?? 0);
  }

  async audit(limit = 1000): Promise<TrustAuditEntry[]> {
    const lines = await this.family.run('write', () => this.link.client.lrange(this.keys.audit, -limit, -1));
    return lines.map((line) => JSON.parse(line) as TrustAuditEntry);
  }

  subscribe(listener: (change: TrustChange) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<TrustRecord>(message);
      if (change === undefined) {
        this.options.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable trust message');
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
