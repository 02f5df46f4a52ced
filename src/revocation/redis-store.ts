import type { Logger } from 'pino';
import { announce } from '../store/family-scripts.js';
import { auditedFamilyKeys, RedisFamilyStore } from '../store/redis-family-store.js';
import type { RedisLink } from '../store/redis-link.js';
import type { RevocationRecord } from './revocation-record.js';
import type { AuditEntry, RevocationChange, RevocationStore } from './revocation-store.js';

// Every key carries the hash tag {rev}, so the scripts touch one slot and work unchanged on
// Redis Cluster. The layout is documented in the README.
export function redisKeys(prefix: string) {
  return auditedFamilyKeys(prefix, 'rev');
}

// Store, bump the version, keep the audit line and announce, all or nothing.
// ARGV: id, record, audit line, change.
const ADD = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {0, existing} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[4]', audit: 'ARGV[3]' })}
return {1, ARGV[2]}
`;

/**
 * Revocations shared by every instance, on the process's RedisLink (RedisFamilyStore): store-first,
 * an add resolves once Redis has it, with its audit line.
 */
export class RedisRevocationStore
  extends RedisFamilyStore<RevocationRecord, ReturnType<typeof redisKeys>>
  implements RevocationStore
{
  private readonly addScript = this.writeScript<[number, string]>('pgRevocationAdd', ADD);

  constructor(link: RedisLink, options: { readonly prefix: string; readonly logger: Logger }) {
    super(link, redisKeys(options.prefix), {
      name: 'revocation store',
      noun: 'revocation',
      logger: options.logger,
    });
  }

  list(): Promise<RevocationRecord[]> {
    return this.readAll();
  }

  async add(record: RevocationRecord): Promise<{ record: RevocationRecord; created: boolean }> {
    const audit = JSON.stringify({ op: 'add', at: record.at, by: record.by, record });
    const change = JSON.stringify({ op: 'add', record } satisfies RevocationChange);
    const [created, stored] = await this.addScript(record.id, JSON.stringify(record), audit, change);
    return { record: JSON.parse(stored) as RevocationRecord, created: created === 1 };
  }

  remove(id: string, by = 'system'): Promise<RevocationRecord | undefined> {
    return this.removeRecord(id, by);
  }

  /** The audit trail, newest last: every add and every removal with who and when. */
  audit(limit = 1000): Promise<AuditEntry[]> {
    return this.readAudit<AuditEntry>(limit);
  }
}
