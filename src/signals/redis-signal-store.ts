import type { Logger } from 'pino';
import type { Change } from '../store/change-message.js';
import { announce } from '../store/family-scripts.js';
import { familyKeys, RedisFamilyStore } from '../store/redis-family-store.js';
import type { RedisLink } from '../store/redis-link.js';
import {
  type SignalBlock,
  type SignalChange,
  type SignalRecord,
  type SignalStore,
  type TransmitterState,
  transmitterRecordId,
  verificationKey,
} from './signal-store.js';

// Every key carries the hash tag {sig}: the scripts touch one slot, so Redis Cluster works. The
// layout is documented in the README. records (blocks, transmitter states), version and channel
// are the family's (RedisFamilyStore); the checks below live in the store only, never mirrored.
export function signalKeys(prefix: string) {
  return {
    ...familyKeys(prefix, 'sig'),
    applied: (key: string) => `${prefix}{sig}:applied:${key}`, // "1", expires with the SET's window
    states: `${prefix}{sig}:states`, // hash: state key -> {"at","value"} JSON
    verification: (key: string) => `${prefix}{sig}:verify:${key}`, // "1" while a verification is awaited
  };
}

// Compare and set in one step: two instances applying events of one subject out of order
// must both end at the later state. KEYS: states. ARGV: key, at, {"at","value"} JSON.
const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local at = tonumber(cjson.decode(current).at)
  if at > tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

// Store and announce, all or nothing. ARGV: id, record, change.
const PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[3]' })}
return version
`;

// The family's removal, answering the version (the caller's SignalChange carries it).
// ARGV: id, change. 0: there was no such record (no version moved, nothing announced).
const REMOVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
${announce({ change: 'ARGV[2]' })}
return version
`;

// Merged in Redis, so two instances patching one transmitter at once both keep their fields;
// the message carries the merged record. ARGV: id, the record with an empty state, the patch.
const PATCH_TRANSMITTER = `
local record = cjson.decode(redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[2])
for k, v in pairs(cjson.decode(ARGV[3])) do record.state[k] = v end
local json = cjson.encode(record)
redis.call('HSET', KEYS[1], ARGV[1], json)
${announce({ change: `'{"op":"add","record":' .. json .. '}'` })}
return {version, json}
`;

// DEL answers 1 for the one caller that found it: a state counts once, whichever instance asks.
const CONSUME = `return redis.call('DEL', KEYS[1])`;

const WAS_APPLIED = `return redis.call('EXISTS', KEYS[1])`;
const MARK_APPLIED = `redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) return 1`;

/**
 * Signal state shared by every instance, on the process's RedisLink: blocks and transmitter
 * states are a mirrored family (RedisFamilyStore), applied SETs, per-subject states and awaited
 * verifications one atomic command each. Nothing of the family expires (SignalMirror.expire drops
 * nothing, and its records carry no expiresAt), so removeExpired never finds one to remove.
 */
export class RedisSignalStore
  extends RedisFamilyStore<SignalRecord, ReturnType<typeof signalKeys>>
  implements SignalStore
{
  private readonly putScript = this.writeScript<number>('pgSigPut', PUT);
  private readonly removeScript = this.writeScript<number>('pgSigRemove', REMOVE);
  private readonly patchScript = this.writeScript<[number, string]>(
    'pgSigPatchTransmitter',
    PATCH_TRANSMITTER,
  );
  // Registered once per process, sent by digest afterwards; writes refused past their time-out.
  private readonly advanceScript = this.family.writeScript<number>('pgSigAdvance', 1, ADVANCE);
  private readonly markAppliedScript = this.family.writeScript<number>('pgSigMarkApplied', 1, MARK_APPLIED);
  private readonly consumeScript = this.family.writeScript<number>('pgSigConsume', 1, CONSUME);
  private readonly wasAppliedScript = this.family.script<number>('pgSigWasApplied', 1, WAS_APPLIED);

  constructor(link: RedisLink, options: { readonly prefix: string; readonly logger: Logger }) {
    super(link, signalKeys(options.prefix), {
      name: 'signal store',
      noun: 'signal',
      logger: options.logger,
    });
  }

  async wasApplied(key: string): Promise<boolean> {
    const found = await this.family.run('lookup', () => this.wasAppliedScript(this.keys.applied(key)));
    return found === 1;
  }

  async markApplied(key: string, ttlMs: number): Promise<void> {
    await this.markAppliedScript(this.keys.applied(key), Math.ceil(ttlMs));
  }

  async expectVerification(transmitter: string, state: string, ttlMs: number): Promise<void> {
    await this.markAppliedScript(
      this.keys.verification(verificationKey(transmitter, state)),
      Math.ceil(ttlMs),
    );
  }

  async consumeVerification(transmitter: string, state: string): Promise<boolean> {
    const key = this.keys.verification(verificationKey(transmitter, state));
    return (await this.consumeScript(key)) === 1;
  }

  async advance(key: string, at: number, value: string): Promise<boolean> {
    return (await this.advanceScript(this.keys.states, key, at, JSON.stringify({ at, value }))) === 1;
  }

  async putBlock(block: SignalBlock): Promise<SignalChange> {
    const record: SignalRecord = { id: block.id, type: 'block', block };
    const change: Change<SignalRecord> = { op: 'add', record };
    const version = await this.putScript(record.id, JSON.stringify(record), JSON.stringify(change));
    return { ...change, version };
  }

  async removeBlock(id: string): Promise<SignalChange | undefined> {
    const change: Change<SignalRecord> = { op: 'remove', id };
    const version = await this.removeScript(id, JSON.stringify(change));
    return version === 0 ? undefined : { ...change, version };
  }

  async patchTransmitter(name: string, patch: TransmitterState): Promise<SignalChange> {
    const id = transmitterRecordId(name);
    const empty: SignalRecord = { id, type: 'transmitter', name, state: {} };
    const [version, json] = await this.patchScript(id, JSON.stringify(empty), JSON.stringify(patch));
    return { op: 'add', record: JSON.parse(json) as SignalRecord, version };
  }

  /** Every transmitter's stored state: what `provgate signals status` prints without a gateway. */
  async transmitters(): Promise<Record<string, TransmitterState>> {
    const { records } = await this.snapshot();
    return Object.fromEntries(records.flatMap((r) => (r.type === 'transmitter' ? [[r.name, r.state]] : [])));
  }
}
