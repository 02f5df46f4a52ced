import type { Logger } from 'pino';
import type { TrustRecord } from '../keys/trust-record.js';
import { announce } from '../store/family-scripts.js';
import { auditedFamilyKeys, RedisFamilyStore } from '../store/redis-family-store.js';
import type { RedisLink } from '../store/redis-link.js';
import type { TrustAuditEntry, TrustChange, TrustStore, TrustWriteMode } from './trust-store.js';

// Every key carries the hash tag {trust}, so each script touches one slot and works unchanged on
// Redis Cluster. The layout is documented in the README.
export function trustKeys(prefix: string) {
  return auditedFamilyKeys(prefix, 'trust');
}

// Store as the mode allows, bump the version, keep the audit line and announce, all or nothing.
// ARGV: id, record, audit line, change, mode.
const PUT = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
local mode = ARGV[5]
if mode == 'if-absent' and existing then return {0, existing} end
if mode == 'if-quarantined' and (not existing or cjson.decode(existing).state ~= 'quarantined') then
  return {0, existing or ''}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[4]', audit: 'ARGV[3]' })}
return {1, ARGV[2]}
`;

// Only a quarantine record: a decision is never forgotten because its key left the set.
// ARGV: id, audit line, change.
const REMOVE_QUARANTINED = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing or cjson.decode(existing).state ~= 'quarantined' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
${announce({ change: 'ARGV[3]', audit: 'ARGV[2]' })}
return 1
`;

/**
 * Key trust decisions shared by every instance, on the process's RedisLink (RedisFamilyStore):
 * store-first, a write resolves once Redis has it, with its audit line. Trust records carry no
 * expiry, so removeExpired never finds one to remove.
 */
export class RedisTrustStore
  extends RedisFamilyStore<TrustRecord, ReturnType<typeof trustKeys>>
  implements TrustStore
{
  private readonly putScript = this.writeScript<[number, string]>('pgTrustPut', PUT);
  private readonly removeQuarantinedScript = this.writeScript<number>(
    'pgTrustRemoveQuarantined',
    REMOVE_QUARANTINED,
  );

  constructor(link: RedisLink, options: { readonly prefix: string; readonly logger: Logger }) {
    super(link, trustKeys(options.prefix), { name: 'trust store', noun: 'trust', logger: options.logger });
  }

  async put(
    record: TrustRecord,
    mode: TrustWriteMode,
  ): Promise<{ record: TrustRecord | undefined; written: boolean }> {
    const audit = JSON.stringify({
      op: 'put',
      at: record.at,
      by: record.by,
      record,
    } satisfies TrustAuditEntry);
    const change = JSON.stringify({ op: 'add', record } satisfies TrustChange);
    const [written, stored] = await this.putScript(record.id, JSON.stringify(record), audit, change, mode);
    return {
      record: stored === '' ? undefined : (JSON.parse(stored) as TrustRecord),
      written: written === 1,
    };
  }

  async removeQuarantined(id: string, by: string): Promise<boolean> {
    const change = JSON.stringify({ op: 'remove', id } satisfies TrustChange);
    return (await this.removeQuarantinedScript(id, ...this.removalAudit(id, by), change)) === 1;
  }

  audit(limit = 1000): Promise<TrustAuditEntry[]> {
    return this.readAudit<TrustAuditEntry>(limit);
  }
}
