// Lua run atomically by Redis. Every key of a script carries the same hash tag (see
// protectionKeys), so each script touches one slot and runs unchanged on Redis Cluster.

/** KEYS: blocks, version, channel. ARGV: id, json, expiresAt, now, change. Keeps the longer block. */
export const ADD_BLOCK = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  local old = tonumber(cjson.decode(existing).expiresAt)
  if old > tonumber(ARGV[4]) and old >= tonumber(ARGV[3]) then return {0, existing} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], ARGV[5])
return {1, ARGV[2]}
`;

/** KEYS: blocks, version, channel. ARGV: id, change. */
export const REMOVE_BLOCK = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return existing
`;

/** KEYS: blocks, version. ARGV: now. Hash fields cannot expire on their own before Redis 7.4. */
export const PRUNE_BLOCKS = `
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  if tonumber(cjson.decode(all[i + 1]).expiresAt) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    n = n + 1
  end
end
if n > 0 then redis.call('INCR', KEYS[2]) end
return n
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
