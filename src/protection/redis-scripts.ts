import { announce } from '../store/family-scripts.js';

// Lua run atomically by Redis. Every key of a script carries the same hash tag (see
// protectionKeys), so each script touches one slot and runs unchanged on Redis Cluster.

// Every block write moves the version and announces "<version> <change JSON>", as every mirrored
// family does; removal and expiry are RedisFamilyStore's (family-scripts.ts).

/** ARGV: id, json, expiresAt, now, change. Keeps the longer block. */
export const ADD_BLOCK = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  local old = tonumber(cjson.decode(existing).expiresAt)
  if old > tonumber(ARGV[4]) and old >= tonumber(ARGV[3]) then return {0, existing} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[5]' })}
return {1, ARGV[2]}
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
