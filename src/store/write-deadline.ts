/**
 * Prepended to every write script. The script's first argument is the deadline (Redis server
 * time, epoch ms) past which its caller stops waiting and answers 503. A write that reaches
 * Redis later (Redis hung, then woke up with the command still in its socket) is refused instead
 * of applied: applying it would make that 503 a lie, and a caller that sends it again (a batch of
 * counters, a lifted block) would have it applied twice.
 */
export const WRITE_DEADLINE = `
local deadline = tonumber(table.remove(ARGV, 1))
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > deadline then
  return redis.error_reply('DEADLINE the write reached Redis after its time-out and was not applied')
end
`;
