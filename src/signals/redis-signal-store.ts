import type { FamilyLink } from '../store/family-link.js';
import type { SignalBlock, SignalStore, TransmitterState } from './signal-store.js';

// Every key carries the hash tag {sig}: the scripts touch one slot, so Redis Cluster works.
export function signalKeys(prefix: string) {
  return {
    applied: (key: string) => `${prefix}{sig}:applied:${key}`, // "1", expires with the SET's window
    states: `${prefix}{sig}:states`, // hash: state key -> {"at","value"} JSON
    blocks: `${prefix}{sig}:blocks`, // hash: block id -> SignalBlock JSON
    transmitters: `${prefix}{sig}:transmitters`, // hash: name -> TransmitterState JSON
    channel: `${prefix}{sig}:changes`, // pub/sub: "blocks" | "transmitters"
  };
}

// Compare and set in one step: two instances applying events of one subject out of order
// must both end at the later state.
const ADVANCE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local at = tonumber(cjson.decode(current).at)
  if at > tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

const PUT_BLOCK = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], 'blocks')
return 1
`;

const REMOVE_BLOCK = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('PUBLISH', KEYS[2], 'blocks') end
return 1
`;

const PATCH_TRANSMITTER = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local state = current and cjson.decode(current) or {}
for k, v in pairs(cjson.decode(ARGV[2])) do state[k] = v end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(state))
if ARGV[3] == '1' then redis.call('PUBLISH', KEYS[2], 'transmitters') end
return 1
`;

const WAS_APPLIED = `return redis.call('EXISTS', KEYS[1])`;
const MARK_APPLIED = `redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) return 1`;
const READ_HASH = `return redis.call('HGETALL', KEYS[1])`;

type Script<T = number> = (...args: (string | number)[]) => Promise<T>;

/**
 * Signal state shared by every instance, on this process's one Redis connection pair (a family
 * of its own: commands bounded by the store's time-outs, availability judged by its own commands).
 */
export class RedisSignalStore implements SignalStore {
  readonly kind = 'redis' as const;
  private readonly keys: ReturnType<typeof signalKeys>;
  private readonly listeners: (() => void)[] = [];
  private readonly advanceScript: Script;
  private readonly putBlockScript: Script;
  private readonly removeBlockScript: Script;
  private readonly patchScript: Script;
  private readonly wasAppliedScript: Script;
  private readonly markAppliedScript: Script;
  private readonly readHashScript: Script<string[]>;

  constructor(
    private readonly family: FamilyLink,
    prefix: string,
  ) {
    this.keys = signalKeys(prefix);
    // Registered once, sent by digest afterwards.
    this.advanceScript = family.script<number>('provgateSigAdvance', 1, ADVANCE);
    this.putBlockScript = family.script<number>('provgateSigPutBlock', 2, PUT_BLOCK);
    this.removeBlockScript = family.script<number>('provgateSigRemoveBlock', 2, REMOVE_BLOCK);
    this.patchScript = family.script<number>('provgateSigPatchTransmitter', 2, PATCH_TRANSMITTER);
    this.wasAppliedScript = family.script<number>('provgateSigWasApplied', 1, WAS_APPLIED);
    this.markAppliedScript = family.script<number>('provgateSigMarkApplied', 1, MARK_APPLIED);
    this.readHashScript = family.script<string[]>('provgateSigReadHash', 1, READ_HASH);
  }

  /** Follows the change channel (the gateway; a CLI command that only reads does not). */
  follow(): void {
    this.family.subscribe(this.keys.channel, () => {
      for (const listener of this.listeners) listener();
    });
  }

  get available(): boolean {
    return this.family.available;
  }

  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  async wasApplied(key: string): Promise<boolean> {
    return (await this.family.run('lookup', () => this.wasAppliedScript(this.keys.applied(key)))) === 1;
  }

  async markApplied(key: string, ttlMs: number): Promise<void> {
    await this.family.run('write', () => this.markAppliedScript(this.keys.applied(key), Math.ceil(ttlMs)));
  }

  async advance(key: string, at: number, value: string): Promise<boolean> {
    const json = JSON.stringify({ at, value });
    return (await this.family.run('write', () => this.advanceScript(this.keys.states, key, at, json))) === 1;
  }

  async putBlock(block: SignalBlock): Promise<void> {
    const { blocks, channel } = this.keys;
    await this.family.run('write', () =>
      this.putBlockScript(blocks, channel, block.id, JSON.stringify(block)),
    );
  }

  async removeBlock(id: string): Promise<void> {
    const { blocks, channel } = this.keys;
    await this.family.run('write', () => this.removeBlockScript(blocks, channel, id));
  }

  async blocks(): Promise<SignalBlock[]> {
    return values(await this.family.run('write', () => this.readHashScript(this.keys.blocks))).map(
      ([, json]) => JSON.parse(json) as SignalBlock,
    );
  }

  async patchTransmitter(name: string, patch: TransmitterState, announce: boolean): Promise<void> {
    const { transmitters, channel } = this.keys;
    const json = JSON.stringify(patch);
    await this.family.run('write', () =>
      this.patchScript(transmitters, channel, name, json, announce ? '1' : '0'),
    );
  }

  async transmitters(): Promise<Record<string, TransmitterState>> {
    const flat = await this.family.run('write', () => this.readHashScript(this.keys.transmitters));
    return Object.fromEntries(
      values(flat).map(([name, json]) => [name, JSON.parse(json) as TransmitterState]),
    );
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.family.onReconnect(listener);
  }

  settled(): Promise<void> {
    return this.family.settled();
  }

  async close(): Promise<void> {
    this.family.close();
  }
}

/** HGETALL as a script answers a flat [field, value, field, value...] list. */
function values(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}
