import type { Logger } from 'pino';
import { announce } from '../store/family-scripts.js';
import { familyKeys, RedisFamilyStore } from '../store/redis-family-store.js';
import type { RedisLink } from '../store/redis-link.js';
import type { LineageRecord } from './lineage-record.js';
import type { LineageChange, LineageStore, LineageWrite } from './lineage-store.js';

// Every key carries the hash tag {lin}, so each script touches one slot and works unchanged on
// Redis Cluster. The layout is documented in the README. Records expire with their child
// (expiresAt inside); there is no audit trail.
export function lineageKeys(prefix: string) {
  return familyKeys(prefix, 'lin');
}

// Stores the record unless its id is taken; a taken id says whether it holds the same child.
// ARGV: id, record, child fingerprint, change.
const ADD = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  if cjson.decode(existing).child.fingerprint == ARGV[3] then return {1, existing} end
  return {2, existing}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[4]' })}
return {0, ARGV[2]}
`;

const OUTCOMES: readonly LineageWrite[] = ['created', 'same', 'conflict'];

/**
 * Lineage records shared by every instance, on the process's RedisLink (RedisFamilyStore): writes
 * bounded by the store's write time-out (and never applied past it), the lookup of a mirror miss
 * by the lookup time-out.
 */
export class RedisLineageStore
  extends RedisFamilyStore<LineageRecord, ReturnType<typeof lineageKeys>>
  implements LineageStore
{
  private readonly addScript = this.writeScript<[number, string]>('pgLineageAdd', ADD);

  constructor(link: RedisLink, options: { readonly prefix: string; readonly logger: Logger }) {
    super(link, lineageKeys(options.prefix), {
      name: 'lineage store',
      noun: 'lineage',
      logger: options.logger,
    });
  }

  async add(record: LineageRecord): Promise<{ outcome: LineageWrite; record: LineageRecord }> {
    const change = JSON.stringify({ op: 'add', record } satisfies LineageChange);
    const [code, stored] = await this.addScript(
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

  list(): Promise<LineageRecord[]> {
    return this.readAll();
  }
}
