import type { Logger } from 'pino';
import type { Change, StoredChange } from './change-message.js';
import type { Mirror, MirroredRecord, MirroredStore, Snapshot, SyncPolicy } from './mirrored-store.js';
import { StoreUnavailableError } from './store-unavailable-error.js';

export interface MirrorSyncOptions {
  /** The family, for log events: `<family>.sync_failed`, `<family>.sync_error`. */
  readonly family: string;
  /** Logged once when the store goes away: what this family does meanwhile. */
  readonly awayMessage: string;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly resyncMs: number;
}

/**
 * Keeps a family's mirror equal to its store, the same way for every family that instances
 * mirror (revocations and blocks today; lineage, key trust, signal watermarks, DPoP replay next):
 * a family brings its store, its index (Mirror) and its write policy (SyncPolicy), nothing else.
 *
 * - Changes arrive as versioned messages. One that follows the last known version moves it on;
 *   a gap (a lost message) asks for a sync, and so does one older than the mirror (a late
 *   duplicate, which is skipped, or a store that restarted empty and counts again).
 * - A sync sends what is pending, reads the version, and reloads the family only when the
 *   version moved past what the messages showed; messages arriving during the reload are held
 *   and applied after it when newer than the snapshot. The store answering again, or the
 *   subscriber coming back, asks for a sync; so does a timer every `resyncMs`.
 * - Expired records leave the mirror locally and the store in one round trip.
 * - Staleness (for fail-closed readers) counts from the last successful exchange with the store.
 * - One error policy: StoreUnavailableError means the store is away (logged once, retried by the
 *   next sync); any other error is a bug: logged as an error and thrown, never taken for an outage.
 */
export class MirrorSync<R extends MirroredRecord> {
  private lastVersion = -1;
  private lastSuccessAt: number;
  private failing = false;
  private held: Change<R>[] | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly detach: (() => void)[] = [];

  constructor(
    private readonly store: MirroredStore<R>,
    private readonly mirror: Mirror<R>,
    private readonly policy: SyncPolicy<R>,
    private readonly options: MirrorSyncOptions,
  ) {
    this.lastSuccessAt = options.clock();
    this.detach.push(store.subscribe((change) => this.onChange(change)));
    this.detach.push(store.onReconnect(() => this.requestSync()));
  }

  /** Waits (briefly) for the store's first answer, syncs, then resyncs every `resyncMs`. */
  async start(): Promise<void> {
    await this.store.settled();
    await this.sync();
    this.timer = setInterval(() => this.requestSync(), this.options.resyncMs);
    this.timer.unref();
  }

  /** Stops following the store; with `flush`, sends what is pending first. */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (options.flush) await this.sync().catch(() => {});
    else await this.running?.catch(() => {});
    for (const detach of this.detach.splice(0)) detach();
  }

  /**
   * Brings the mirror up to the store. Resolves when done or when the store is away (see
   * staleSeconds); rejects only for a bug. A sync asked for while one runs runs after it.
   */
  sync(): Promise<void> {
    if (this.running === undefined) {
      // Started on the next microtask, once `running` is set: a memory store announces a write
      // synchronously, and the sync that message asks for must queue behind this one.
      this.running = Promise.resolve()
        .then(() => this.runOnce())
        .finally(() => {
          this.running = undefined;
        });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.sync();
      });
    return this.queued;
  }

  /**
   * A change this instance has just stored (a store-first write), with the version the store gave
   * it: it holds in the mirror at once, so the writer's next read sees it, unless the mirror is
   * already at or past that version (its own message, or a later change of the same record, came
   * first over the subscriber). The version moves only with the messages, so a lost one is still
   * noticed as a gap.
   */
  applyStored(change: StoredChange<R>): void {
    if (change.version <= this.lastVersion) return;
    if (change.op === 'add') this.mirror.apply(change.record);
    else this.mirror.remove(change.id);
  }

  /** Seconds since the mirror was last known to equal the store; 0 while it is. */
  staleSeconds(): number {
    if (this.store.available && !this.failing) return 0;
    return Math.max(0, this.options.clock() - this.lastSuccessAt) / 1000;
  }

  /** The store version the mirror is known to equal; -1 before the first sync. */
  get version(): number {
    return this.lastVersion;
  }

  private requestSync(): void {
    // Already logged by runOnce; a timer or a message has no caller to hand the error to.
    this.sync().catch(() => {});
  }

  private async runOnce(): Promise<void> {
    const { clock, logger, family } = this.options;
    try {
      await this.policy.flushPending();
      const known = this.lastVersion;
      const version = await this.store.version();
      // Behind what the messages showed (they raced this read) is fine; behind what was known
      // before asking means the counter went back: the store lost data.
      if (version > this.lastVersion || version < known) await this.reload();
      const now = clock();
      const expired = this.mirror.expire(now);
      if (expired.length > 0) await this.store.removeExpired(expired, now);
      if (this.failing) logger.info({ event: `${family}.sync_resumed` }, `${family} store answers again`);
      this.failing = false;
      this.lastSuccessAt = clock();
    } catch (err) {
      const wasFailing = this.failing;
      this.failing = true;
      if (err instanceof StoreUnavailableError) {
        if (!wasFailing) {
          logger.warn({ event: `${family}.sync_failed`, err: err.message }, this.options.awayMessage);
        }
        return;
      }
      logger.error(
        { event: `${family}.sync_error`, err },
        `${family} sync failed: ${(err as Error).message}`,
      );
      throw err;
    }
  }

  private async reload(): Promise<void> {
    this.held = [];
    let snapshot: Snapshot<R> | undefined;
    try {
      snapshot = await this.store.snapshot();
      const extra = await this.policy.reinstate(snapshot.records);
      this.mirror.replaceAll([...snapshot.records, ...extra]);
      this.lastVersion = snapshot.version;
    } finally {
      const held = this.held;
      this.held = undefined;
      // What the snapshot already holds is skipped; what came after it is applied in order.
      const after = snapshot?.version ?? -1;
      for (const change of held)
        if (change.version === undefined || change.version > after) this.apply(change);
    }
  }

  private onChange(change: Change<R>): void {
    if (this.held !== undefined) this.held.push(change);
    else this.apply(change);
  }

  private apply(change: Change<R>): void {
    const version = change.version;
    if (version !== undefined && this.lastVersion >= 0 && version <= this.lastVersion) {
      // Already in the mirror (published before the last snapshot, delivered after it), or the
      // store's counter went back (Redis restarted empty): the version check tells which.
      this.requestSync();
      return;
    }
    try {
      if (change.op === 'add') this.mirror.apply(change.record);
      else this.mirror.remove(change.id);
      this.policy.onChange?.(change);
    } catch (err) {
      this.options.logger.error(
        { event: `${this.options.family}.sync_error`, err },
        `${this.options.family} change not applied: ${(err as Error).message}`,
      );
      this.requestSync();
      return;
    }
    if (version !== undefined && version === this.lastVersion + 1) {
      this.lastVersion = version;
      this.lastSuccessAt = this.options.clock();
    } else {
      // A gap: some change never arrived (or this one has no version to vouch for it).
      this.requestSync();
    }
  }
}
