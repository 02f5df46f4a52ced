import type { Logger } from 'pino';
import { decodeChange } from '../store/change-message.js';
import type { FamilyLink } from '../store/family-link.js';
import type { Snapshot } from '../store/mirrored-store.js';
import type { RedisLink } from '../store/redis-link.js';
import { readSnapshot } from '../store/redis-snapshot.js';
import type { LineageRecord } from './lineage-record.js';
import type { LineageChange, LineageStore, LineageWrite } from './lineage-store.js';

// Every key carries the hash tag {lin}, so each script touches one slot and works unchanged on
// Redis Cluster. The layout is documented in the README.
export function lineageKeys(prefix: string) {
  return {
    records: `${prefix}{lin}:records`, // hash: id -> LineageRecord JSON (expiresAt inside)
    version: `${prefix}{lin}:version`, // counter bumped by every write
    channel: `${prefix}{lin}:changes`, // pub/sub: "<version> <LineageChange JSON>"
  };
}

// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

// Stores the record unless its id is taken; a taken id says whether it holds the same child.
// KEYS: records, version, channel. ARGV: id, record, child fingerprint, change.
const ADD = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  if cjson.decode(existing).child.fingerprint == ARGV[3] then return {1, existing} end
  return {2, existing}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[4])
return {0, ARGV[2]}
`;

// KEYS: records, version, channel. ARGV: now, then per id: id, change.
const REMOVE_EXPIRED = `
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 2 do
  local existing = redis.call('HGET', KEYS[1], ARGV[i])
  if existing and tonumber(cjson.decode(existing).expiresAt) <= now then
    redis.call('HDEL', KEYS[1], ARGV[i])
    local version = redis.call('INCR', KEYS[2])
    redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[i + 1])
    removed = removed + 1
  end
end
return removed
`;

const OUTCOMES: readonly LineageWrite[] = ['created', 'same', 'conflict'];

function lineageScripts(family: FamilyLink) {
  return {
    add: family.writeScript<[number, string]>('pgLineageAdd', 3, ADD),
    removeExpired: family.writeScript<number>('pgLineageRemoveExpired', 3, REMOVE_EXPIRED),
  };
}

/**
 * Lineage records shared by every instance, on the process's RedisLink: writes bounded by the
 * store's write time-out (and never applied past it), the lookup of a mirror miss by the lookup
 * time-out, availability judged by this family's own commands.
 */
export class RedisLineageStore implements LineageStore {
  readonly kind = 'redis' as const;
  private readonly family: FamilyLink;
  private readonly keys: ReturnType<typeof lineageKeys>;
  private readonly scripts: ReturnType<typeof lineageScripts>;

  constructor(
    readonly link: RedisLink,
    private readonly options: { readonly prefix: string; readonly logger: Logger },
  ) {
    this.keys = lineageKeys(options.prefix);
    this.family = link.family('lineage store');
    this.scripts = lineageScripts(this.family);
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

  async add(record: LineageRecord): Promise<{ outcome: LineageWrite; record: LineageRecord }> {
    const k = this.keys;
    const change = JSON.stringify({ op: 'add', record } satisfies LineageChange);
    const [code, stored] = await this.scripts.add(
      k.records,
      k.version,
      k.channel,
      record.id,
      JSON.stringify(record),
      record.child.fingerprint,
      change,
    );
    return { outcome: OUTCOMES[code] ?? 'conflict', record: JSON.parse(stored) as LineageRecord };
  }

  async get(id: string): Promise<LineageRecord | undefined> {
    const json = await this.family.run('lookup', () => this.link.client.hget(this.keys.records, id));
    return json === null ? undefined : (JSON.parse(json) as LineageRecord);
  }

  async list(): Promise<LineageRecord[]> {
    const all = await this.family.run('write', () => this.link.client.hgetall(this.keys.records));
    return Object.values(all).map((json) => JSON.parse(json) as LineageRecord);
  }

  snapshot(): Promise<Snapshot<LineageRecord>> {
    return readSnapshot<LineageRecord>(this.family, this.keys);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const k = this.keys;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const args: (string | number)[] = [now];
      for (const id of ids.slice(i, i + CHUNK)) {
        args.push(id, JSON.stringify({ op: 'remove', id } satisfies LineageChange));
      }
      await this.scripts.removeExpired(k.records, k.version, k.channel, ...args);
    }
  }

  async version(): Promise<number> {
    return Number((await this.family.run('lookup', () => this.link.client.get(this.keys.version))) ?? 0);
  }

  subscribe(listener: (change: LineageChange) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<LineageRecord>(message);
      if (change === undefined) {
        this.options.logger.warn({ event: 'store.bad_message' }, 'ignored an unreadable lineage message');
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
