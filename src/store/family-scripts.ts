// Lua shared by the write scripts of every mirrored family in Redis (RedisFamilyStore). A family
// script is called with the family's keys first, always in this order:
//   KEYS[1] records (hash: id -> record JSON), KEYS[2] version, KEYS[3] channel, KEYS[4] audit
// (the last only for a family that keeps an audit trail). All carry the family's hash tag, so a
// script touches one slot and runs unchanged on Redis Cluster.

/** Audit lines a family keeps in Redis, newest last. */
export const AUDIT_CAP = 100_000;

/**
 * The end of every write: bumps the version, keeps the audit line (capped) when there is one,
 * and announces `<version> <change JSON>` (decodeChange reads it; the version comes from this
 * script's INCR, so it is exact). `change` and `audit` are Lua expressions, such as `ARGV[4]`.
 */
export function announce(lua: { readonly change: string; readonly audit?: string | undefined }): string {
  const lines = [`local version = redis.call('INCR', KEYS[2])`];
  if (lua.audit !== undefined) {
    lines.push(
      `redis.call('RPUSH', KEYS[4], ${lua.audit})`,
      `redis.call('LTRIM', KEYS[4], -${AUDIT_CAP}, -1)`,
    );
  }
  lines.push(`redis.call('PUBLISH', KEYS[3], version .. ' ' .. ${lua.change})`);
  return lines.join('\n');
}

/** Removes one record and announces it. ARGV: id, change[, audit line]. Returns the removed JSON. */
export function removeScript(audited: boolean): string {
  return `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
${announce({ change: 'ARGV[2]', audit: audited ? 'ARGV[3]' : undefined })}
return existing
`;
}

/**
 * Removes each id still expired at ARGV[1], each with a version and a message of its own (hash
 * fields cannot expire on their own before Redis 7.4). ARGV: now, then per id: id, change[, audit
 * line]. A record without `expiresAt` never expires. Returns how many it removed.
 */
export function removeExpiredScript(audited: boolean): string {
  return `
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, ${audited ? 3 : 2} do
  local existing = redis.call('HGET', KEYS[1], ARGV[i])
  if existing then
    local expiresAt = tonumber(cjson.decode(existing).expiresAt)
    if expiresAt and expiresAt <= now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      ${announce({ change: 'ARGV[i + 1]', audit: audited ? 'ARGV[i + 2]' : undefined })}
      removed = removed + 1
    end
  end
end
return removed
`;
}
