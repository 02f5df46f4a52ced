// Lua run atomically by Redis. Every key of a script carries the same hash tag (see
// protectionKeys), so each script touches one slot and runs unchanged on Redis Cluster.

// Every block write moves the version and announces "<version> <change JSON>", as the
// revocation scripts do: an instance that saw every version in order needs no reload.

/** KEYS: blocks, version, channel. ARGV: id, json, expiresAt, now, change. Keeps the longer block. */
export const ADD_BLOCK = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  local old = tonumber(cjson.decode(existing).expiresAt)
  if old > tonumber(ARGV[4]) and old >= tonumber(ARGV[3]) then return {0, existing} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[5])
return {1, ARGV[2]}
`;

/** KEYS: blocks, version, channel. ARGV: id, change. */
export const REMOVE_BLOCK = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[2])
return existing
`;

/**
 * KEYS: blocks, version, channel. ARGV: now, then per id: id, change. Removes each block still
 * expired at `now`, each with a version and a message of its own (hash fields cannot expire on
 * their own before Redis 7.4).
 */
export const REMOVE_EXPIRED_BLOCKS = `
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

/** KEYS: counters. ARGV: delta and ttl (ms) per key. Returns each counter's new total. */
export const ADD_COUNTS = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('INCRBY', key, ARGV[2 * i - 1])
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return out
`;

/**
 * KEYS: one sorted set (address -> last seen, ms) per sighting. ARGV per key: address, at,
 * windowMs, maxAddresses. Returns {distinct addresses in the window, evidence when above max}.
 */
export const ADD_SIGHTINGS = `
local out = {}
for i, key in ipairs(KEYS) do
  local b = 4 * (i - 1)
  local at = tonumber(ARGV[b + 2])
  local window = tonumber(ARGV[b + 3])
  redis.call('ZADD', key, 'GT', at, ARGV[b + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', at - window)
  redis.call('PEXPIRE', key, window)
  local n = redis.call('ZCARD', key)
  if n > tonumber(ARGV[b + 4]) then out[i] = {n, redis.call('ZRANGE', key, 0, 49)} else out[i] = {n} end
end
return out
`;
