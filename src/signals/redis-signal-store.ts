import type { Logger } from 'pino';
import { type Change, decodeChange } from '../store/change-message.js';
import type { FamilyLink } from '../store/family-link.js';
import type { Snapshot } from '../store/mirrored-store.js';
import { readSnapshot } from '../store/redis-snapshot.js';
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
// layout is documented in the README.
export function signalKeys(prefix: string) {
  return {
    applied: (key: string) => `${prefix}{sig}:applied:${key}`, // "1", expires with the SET's window
    states: `${prefix}{sig}:states`, // hash: state key -> {"at","value"} JSON
    records: `${prefix}{sig}:records`, // hash: id -> SignalRecord JSON (blocks, transmitter states)
    version: `${prefix}{sig}:version`, // counter bumped by every write to records
    channel: `${prefix}{sig}:changes`, // pub/sub: "<version> <SignalChange JSON>"
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

// Store, bump the version and announce, all or nothing. KEYS: records, version, channel.
// ARGV: id, record, change.
const PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[3])
return version
`;

// ARGV: id, change. 0: there was no such record (no version moved, nothing announced).
const REMOVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' ' .. ARGV[2])
return version
`;

// Merged in Redis, so two instances patching one transmitter at once both keep their fields;
// the message carries the merged record. ARGV: id, the record with an empty state, the patch.
const PATCH_TRANSMITTER = `
local record = cjson.decode(redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[2])
for k, v in pairs(cjson.decode(ARGV[3])) do record.state[k] = v end
local json = cjson.encode(record)
redis.call('HSET', KEYS[1], ARGV[1], json)
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version .. ' {"op":"add","record":' .. json .. '}')
return {version, json}
`;

// DEL answers 1 for the one caller that found it: a state counts once, whichever instance asks.
const CONSUME = `return redis.call('DEL', KEYS[1])`;

const WAS_APPLIED = `return redis.call('EXISTS', KEYS[1])`;
const MARK_APPLIED = `redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) return 1`;
const VERSION = `return redis.call('GET', KEYS[1]) or '0'`;

function signalScripts(family: FamilyLink) {
  // Registered once per process, sent by digest afterwards; writes refused past their time-out.
  return {
    advance: family.writeScript<number>('pgSigAdvance', 1, ADVANCE),
    put: family.writeScript<number>('pgSigPut', 3, PUT),
    remove: family.writeScript<number>('pgSigRemove', 3, REMOVE),
    patchTransmitter: family.writeScript<[number, string]>('pgSigPatchTransmitter', 3, PATCH_TRANSMITTER),
    markApplied: family.writeScript<number>('pgSigMarkApplied', 1, MARK_APPLIED),
    consume: family.writeScript<number>('pgSigConsume', 1, CONSUME),
    wasApplied: family.script<number>('pgSigWasApplied', 1, WAS_APPLIED),
    version: family.script<string>('pgSigVersion', 1, VERSION),
  };
}

/**
 * Signal state shared by every instance, on this process's one Redis connection pair (a family
 * of its own: commands bounded by the store's time-outs, availability judged by its own commands).
 * `logger` reports unreadable change messages; a CLI command that never subscribes needs none.
 */
export class RedisSignalStore implements SignalStore {
  readonly kind = 'redis' as const;
  private readonly keys: ReturnType<typeof signalKeys>;
  private readonly scripts: ReturnType<typeof signalScripts>;

  constructor(
    private readonly family: FamilyLink,
    prefix: string,
    private readonly logger?: Logger,
  ) {
    this.keys = signalKeys(prefix);
    this.scripts = signalScripts(family);
  }

  get available(): boolean {
    return this.family.available;
  }

  get unavailableReason(): string | undefined {
    return this.family.unavailableReason;
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  async wasApplied(key: string): Promise<boolean> {
    const found = await this.family.run('lookup', () => this.scripts.wasApplied(this.keys.applied(key)));
    return found === 1;
  }

  async markApplied(key: string, ttlMs: number): Promise<void> {
    await this.scripts.markApplied(this.keys.applied(key), Math.ceil(ttlMs));
  }

  async expectVerification(transmitter: string, state: string, ttlMs: number): Promise<void> {
    await this.scripts.markApplied(
      this.keys.verification(verificationKey(transmitter, state)),
      Math.ceil(ttlMs),
    );
  }

  async consumeVerification(transmitter: string, state: string): Promise<boolean> {
    const key = this.keys.verification(verificationKey(transmitter, state));
    return (await this.scripts.consume(key)) === 1;
  }

  async advance(key: string, at: number, value: string): Promise<boolean> {
    return (await this.scripts.advance(this.keys.states, key, at, JSON.stringify({ at, value }))) === 1;
  }

  async putBlock(block: SignalBlock): Promise<SignalChange> {
    const k = this.keys;
    const record: SignalRecord = { id: block.id, type: 'block', block };
    const change: Change<SignalRecord> = { op: 'add', record };
    const version = await this.scripts.put(
      k.records,
      k.version,
      k.channel,
      record.id,
      JSON.stringify(record),
      JSON.stringify(change),
    );
    return { ...change, version };
  }

  async removeBlock(id: string): Promise<SignalChange | undefined> {
    const k = this.keys;
    const change: Change<SignalRecord> = { op: 'remove', id };
    const version = await this.scripts.remove(k.records, k.version, k.channel, id, JSON.stringify(change));
    return version === 0 ? undefined : { ...change, version };
  }

  async patchTransmitter(name: string, patch: TransmitterState): Promise<SignalChange> {
    const k = this.keys;
    const id = transmitterRecordId(name);
    const empty: SignalRecord = { id, type: 'transmitter', name, state: {} };
    const [version, json] = await this.scripts.patchTransmitter(
      k.records,
      k.version,
      k.channel,
      id,
      JSON.stringify(empty),
      JSON.stringify(patch),
    );
    return { op: 'add', record: JSON.parse(json) as SignalRecord, version };
  }

  /** Nothing of this family expires (SignalMirror.expire drops nothing). */
  async removeExpired(_ids: readonly string[], _now: number): Promise<void> {}

  async version(): Promise<number> {
    return Number(await this.family.run('lookup', () => this.scripts.version(this.keys.version)));
  }

  snapshot(): Promise<Snapshot<SignalRecord>> {
    return readSnapshot<SignalRecord>(this.family, this.keys);
  }

  /** Every transmitter's stored state: what `provgate signals status` prints without a gateway. */
  async transmitters(): Promise<Record<string, TransmitterState>> {
    const { records } = await this.snapshot();
    return Object.fromEntries(records.flatMap((r) => (r.type === 'transmitter' ? [[r.name, r.state]] : [])));
  }

  subscribe(listener: (change: Change<SignalRecord>) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<SignalRecord>(message);
      // Dropped: the version gap it leaves brings a reload.
      if (change === undefined) {
        this.logger?.warn({ event: 'store.bad_message' }, 'ignored an unreadable signal message');
        return;
      }
      listener(change);
    });
  }

  onReconnect(listener: () => void): () => void {
    return this.family.onReconnect(listener);
  }

  settled(): Promise<void> {
    return this.family.settled();
  }

  async close(): Promise<void> {
    this.family.close();
  }
}
