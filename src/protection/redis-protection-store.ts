import type { Logger } from 'pino';
import { RedisFamilyStore } from '../store/redis-family-store.js';
import type { RedisLink } from '../store/redis-link.js';
import type { BlockRecord } from './block-record.js';
import type { BlockChange, BlockStore } from './block-store.js';
import { ADD_BLOCK, ADD_COUNTS, ADD_SIGHTINGS } from './redis-scripts.js';
import type { CountDelta, SharedTallies, Sighting, SightingTally } from './shared-tallies.js';

/**
 * Key layout (all under one hash tag, so it works unchanged on Redis Cluster):
 *   <prefix>{prot}:blocks                    hash: block id -> block JSON (expiresAt inside)
 *   <prefix>{prot}:blocks:version            counter bumped by every block write
 *   <prefix>{prot}:blocks:changes            pub/sub: "<version> <BlockChange JSON>"
 *   <prefix>{prot}:c:<family>:<window>:<key> integer counter, expires two windows after creation
 *                                            (family: rl:<rate limit name>, or fb for failure bursts)
 *   <prefix>{prot}:tr:<token fingerprint>    sorted set: client address -> last seen (ms)
 */
export function protectionKeys(prefix: string) {
  const tag = `${prefix}{prot}:`;
  return {
    records: `${tag}blocks`,
    version: `${tag}blocks:version`,
    channel: `${tag}blocks:changes`,
    counter: (name: string) => tag + name,
    sightings: (fingerprint: string) => `${tag}tr:${fingerprint}`,
  };
}

// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

/**
 * Blocks (a mirrored family: RedisFamilyStore) and cluster-wide tallies in Redis, on the
 * process's RedisLink. Commands fail fast while disconnected and are bounded by the store's
 * time-outs: callers keep their state in memory and send it again later.
 */
export class RedisProtectionStore
  extends RedisFamilyStore<BlockRecord, ReturnType<typeof protectionKeys>>
  implements BlockStore, SharedTallies
{
  private readonly addBlock = this.writeScript<[number, string]>('pgAddBlock', ADD_BLOCK);
  // Their keys vary per call: the first argument says how many.
  private readonly addCountsScript = this.family.writeScript<number[]>('pgAddCounts', undefined, ADD_COUNTS);
  private readonly addSightingsScript = this.family.writeScript<[number, string[]?][]>(
    'pgAddSightings',
    undefined,
    ADD_SIGHTINGS,
  );

  constructor(link: RedisLink, options: { readonly prefix: string; readonly logger: Logger }) {
    super(link, protectionKeys(options.prefix), {
      name: 'protection store',
      noun: 'block',
      logger: options.logger,
    });
  }

  async list(now: number): Promise<BlockRecord[]> {
    return (await this.readAll()).filter((b) => b.expiresAt > now);
  }

  async add(block: BlockRecord, now: number): Promise<{ block: BlockRecord; changed: boolean }> {
    const change = JSON.stringify({ op: 'add', record: block } satisfies BlockChange);
    const [changed, stored] = await this.addBlock(
      block.id,
      JSON.stringify(block),
      block.expiresAt,
      now,
      change,
    );
    return { block: JSON.parse(stored) as BlockRecord, changed: changed === 1 };
  }

  remove(id: string): Promise<BlockRecord | undefined> {
    return this.removeRecord(id);
  }

  async addCounts(batch: readonly CountDelta[]): Promise<number[]> {
    const totals: number[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const d of part) args.push(this.keys.counter(d.key));
      for (const d of part) args.push(d.delta, d.ttlMs);
      totals.push(...(await this.addCountsScript(...args)));
    }
    return totals;
  }

  async addSightings(batch: readonly Sighting[]): Promise<SightingTally[]> {
    const tallies: SightingTally[] = [];
    for (let i = 0; i < batch.length; i += CHUNK) {
      const part = batch.slice(i, i + CHUNK);
      const args: (string | number)[] = [part.length];
      for (const s of part) args.push(this.keys.sightings(s.fingerprint));
      for (const s of part) args.push(s.address, s.at, s.windowMs, s.maxAddresses);
      for (const [n, evidence] of await this.addSightingsScript(...args)) {
        tallies.push({ addresses: n, evidence: evidence ?? [] });
      }
    }
    return tallies;
  }
}
