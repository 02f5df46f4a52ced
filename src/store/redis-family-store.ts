import type { Logger } from 'pino';
import { type Change, decodeChange } from './change-message.js';
import type { FamilyLink } from './family-link.js';
import { removeExpiredScript, removeScript } from './family-scripts.js';
import type { MirroredRecord, MirroredStore, Snapshot } from './mirrored-store.js';
import type { RedisLink } from './redis-link.js';
import { readSnapshot } from './redis-snapshot.js';

/** Where a family lives in Redis; every key under the family's one hash tag (one Cluster slot). */
export interface FamilyKeys {
  /** hash: id -> record JSON */
  readonly records: string;
  /** counter bumped by every write */
  readonly version: string;
  /** pub/sub: "<version> <change JSON>" */
  readonly channel: string;
  /** list of audit lines ({op, at, by, record | id} JSON), newest last, capped; absent: no trail */
  readonly audit?: string | undefined;
}

/** The usual layout: `<prefix>{<tag>}:records`, `:version` and `:changes`. */
export function familyKeys(prefix: string, tag: string) {
  return {
    records: `${prefix}{${tag}}:records`,
    version: `${prefix}{${tag}}:version`,
    channel: `${prefix}{${tag}}:changes`,
  };
}

/** The usual layout with an audit trail, `<prefix>{<tag>}:audit`. */
export function auditedFamilyKeys(prefix: string, tag: string) {
  return { ...familyKeys(prefix, tag), audit: `${prefix}{${tag}}:audit` };
}

// Keeps one script call small enough not to hold Redis up noticeably.
const CHUNK = 500;

export interface RedisFamilyOptions {
  /** What logs call the family's link: 'revocation store'. */
  readonly name: string;
  /** What one record is called when a message cannot be read: 'revocation'. */
  readonly noun: string;
  readonly logger: Logger;
}

/**
 * The MirroredStore half of a family in Redis, on the process's RedisLink: availability judged by
 * this family's own commands, every command bounded by the store's time-outs (a write that times
 * out is never applied late), scripts registered once (EVALSHA), change messages read and
 * written in one format. A family adds its write operations and their scripts (see
 * family-scripts.ts for the keys they get and the `announce` they end with).
 */
export class RedisFamilyStore<R extends MirroredRecord, K extends FamilyKeys = FamilyKeys>
  implements MirroredStore<R>
{
  readonly kind = 'redis' as const;
  protected readonly family: FamilyLink;
  private readonly scriptKeys: readonly string[];
  private readonly removeOne: (...args: (string | number)[]) => Promise<string | null>;
  private readonly removeSome: (...args: (string | number)[]) => Promise<number>;

  constructor(
    /** Read by a test that cuts exactly this subscriber off, and by the CLI to open another family. */
    readonly link: RedisLink,
    protected readonly keys: K,
    private readonly options: RedisFamilyOptions,
  ) {
    this.family = link.family(options.name);
    const audited = keys.audit !== undefined;
    this.scriptKeys = [keys.records, keys.version, keys.channel, ...(audited ? [keys.audit!] : [])];
    const suffix = audited ? 'Audited' : '';
    this.removeOne = this.writeScript(`pgFamilyRemove${suffix}`, removeScript(audited));
    this.removeSome = this.writeScript(`pgFamilyRemoveExpired${suffix}`, removeExpiredScript(audited));
  }

  get available(): boolean {
    return this.family.available;
  }

  get unavailableReason(): string | undefined {
    return this.family.unavailableReason;
  }

  settled(): Promise<void> {
    return this.family.settled();
  }

  /** Resolves once connected; rejects after `timeoutMs`. For the CLI, which has one thing to do. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    return this.family.waitUntilReady(timeoutMs);
  }

  snapshot(): Promise<Snapshot<R>> {
    return readSnapshot<R>(this.family, this.keys);
  }

  async version(): Promise<number> {
    return Number((await this.family.run('lookup', () => this.link.client.get(this.keys.version))) ?? 0);
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    const at = new Date().toISOString();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const args: (string | number)[] = [now];
      for (const id of ids.slice(i, i + CHUNK))
        args.push(id, removal(id), ...this.removalAudit(id, 'system', at));
      await this.removeSome(...args);
    }
  }

  subscribe(listener: (change: Change<R>) => void): () => void {
    return this.family.subscribe(this.keys.channel, (message) => {
      const change = decodeChange<R>(message);
      // Dropped: the version gap it leaves brings a reload.
      if (change === undefined) {
        this.options.logger.warn(
          { event: 'store.bad_message' },
          `ignored an unreadable ${this.options.noun} message`,
        );
        return;
      }
      listener(change);
    });
  }

  onReconnect(listener: () => void): () => void {
    return this.family.onReconnect(listener);
  }

  /** Detaches from the store's connection (which other stores of the process may share). */
  async close(): Promise<void> {
    this.family.close();
  }

  /** Every record, read in one bounded command. */
  protected async readAll(): Promise<R[]> {
    const all = await this.family.run('write', () => this.link.client.hgetall(this.keys.records));
    return Object.values(all).map((json) => JSON.parse(json) as R);
  }

  /** Removes `id` if stored and announces it (noting `by` in the trail); returns what was stored. */
  protected async removeRecord(id: string, by = 'system'): Promise<R | undefined> {
    const existing = await this.removeOne(id, removal(id), ...this.removalAudit(id, by));
    return existing === null ? undefined : (JSON.parse(existing) as R);
  }

  /** The audit line of a removal, as the arguments of a script: none for a family without a trail. */
  protected removalAudit(id: string, by: string, at = new Date().toISOString()): string[] {
    return this.keys.audit === undefined ? [] : [JSON.stringify({ op: 'remove', at, by, id })];
  }

  /** The last `limit` lines of the audit trail, oldest first. */
  protected async readAudit<E>(limit: number): Promise<E[]> {
    const audit = this.keys.audit;
    if (audit === undefined) return [];
    const lines = await this.family.run('write', () => this.link.client.lrange(audit, -limit, -1));
    return lines.map((line) => JSON.parse(line) as E);
  }

  /**
   * A family write script, registered once per process; its caller passes the arguments only,
   * the family's keys go first (records, version, channel[, audit]: see family-scripts.ts).
   */
  protected writeScript<T>(name: string, lua: string): (...args: (string | number)[]) => Promise<T> {
    const keys = this.scriptKeys;
    const call = this.family.writeScript<T>(name, keys.length, lua);
    return (...args) => call(...keys, ...args);
  }
}

function removal(id: string): string {
  return JSON.stringify({ op: 'remove', id } satisfies Change<MirroredRecord>);
}
