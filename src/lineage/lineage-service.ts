import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RevocationSpec, StoreConfig } from '../config/schema.js';
import { MirrorSync } from '../store/mirror-sync.js';
import { sendOwed } from '../store/mirrored-store.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { LineageMirror } from './lineage-mirror.js';
import { describeChild, type LineageRecord, lineageId, revocationReaches } from './lineage-record.js';
import { LineageStats } from './lineage-stats.js';
import type { LineageStore, LineageWrite } from './lineage-store.js';

/** A minted token recorded on this instance only (store away), or found recorded differently. */
export interface LineageEvent {
  readonly event: 'lineage.held' | 'lineage.conflict';
  readonly severity: 'high';
  readonly [field: string]: unknown;
}

/**
 * Takes a lineage event to the security-event stream (SecurityEvents.notice, wired by the
 * server); `message` undefined: its log line is written here.
 */
export type LineageEventSink = (event: LineageEvent, message: string | undefined) => void;

export interface LineageServiceOptions {
  readonly store: LineageStore;
  readonly storeConfig: StoreConfig;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly clock: () => number;
  /** The security-event stream; without it, the events are log lines only. */
  readonly events?: LineageEventSink | undefined;
}

/** How long "the store has no record of this token" is believed before asking again. */
const NEGATIVE_CACHE_MS = 2000;
/** Misses remembered at once; the cache is emptied when full (a flood costs lookups, not memory). */
const NEGATIVE_CACHE_ENTRIES = 10_000;
/** Lookups in flight at once; more are refused as unavailable rather than queued. */
const MAX_LOOKUPS = 1024;

/** What recording a mint came to: every child stored, or (serve-stale, store away) held here. */
export type RecordOutcome =
  | { readonly kind: 'stored' }
  | { readonly kind: 'held' }
  | { readonly kind: 'conflict'; readonly record: LineageRecord };

/**
 * Lineage: the mirror every instance reads (filled by the one MirrorSync from the store's change
 * messages) and the lineage write policy, store-first. A mint answer is delivered only once its
 * records are stored, so another instance that meets the child looks it up and finds it. With the
 * store away, `store.onUnavailable` decides: fail-closed refuses the mint (the caller answers 503
 * lineage_unavailable); serve-stale records it here, mirror-first, and owes it to the store until
 * the store has it: nothing is lost, and every instance has it once Redis is back.
 *
 * A mirror miss for a presented resource token (another instance minted it a moment ago, and its
 * change message has not arrived) is one bounded store lookup, one per token at a time, and a
 * token the store does not know is remembered as unknown for a short while.
 */
export class LineageService {
  readonly mirror = new LineageMirror();
  readonly stats = new LineageStats();
  /** Recorded here while the store was away; sent at each sync until it has them. */
  private readonly owed = new Map<string, LineageRecord>();
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<LineageRecord | undefined>>();
  private readonly syncer: MirrorSync<LineageRecord>;
  private readonly instance = `${hostname()}:${process.pid}`;

  constructor(private readonly options: LineageServiceOptions) {
    this.syncer = new MirrorSync(
      options.store,
      this.mirror,
      {
        flushPending: () => this.flushOwed(),
        // Records on their way must not vanish from the mirror meanwhile.
        reinstate: async (stored) => {
          const ids = new Set(stored.map((r) => r.id));
          return [...this.owed.values()].filter((r) => !ids.has(r.id));
        },
        onChange: (change) => {
          if (change.op === 'add') this.unknown.delete(change.record.id);
        },
      },
      {
        family: 'lineage',
        awayMessage: 'lineage store unavailable; serving the last known lineage records',
        logger: options.logger,
        clock: options.clock,
        resyncMs: options.storeConfig.resyncSeconds * 1000,
      },
    );
  }

  get store(): LineageStore {
    return this.options.store;
  }

  /** Whether a mirror miss may ask the store: with memory the mirror is the whole store. */
  get looksUp(): boolean {
    return this.options.store.kind === 'redis';
  }

  /** Records held here that the store has not confirmed yet. */
  get owedCount(): number {
    return this.owed.size;
  }

  /** Who records: host:pid, as blocks name their instance. */
  get instanceName(): string {
    return this.instance;
  }

  start(): Promise<void> {
    return this.syncer.start();
  }

  /** Sends what is still owed (when the store answers), then lets go of the store. */
  async stop(): Promise<void> {
    await this.syncer.stop({ flush: true });
    await this.options.store.close();
  }

  sync(): Promise<void> {
    return this.syncer.sync();
  }

  staleSeconds(): number {
    return this.syncer.staleSeconds();
  }

  /**
   * Records the children of one mint answer, store-first. Rejects with StoreUnavailableError
   * only under fail-closed; a child whose id the store holds for another token is a conflict.
   */
  async record(records: readonly LineageRecord[]): Promise<RecordOutcome> {
    let held = false;
    for (const record of records) {
      const local = this.mirror.get(record.id);
      if (local !== undefined && local.child.fingerprint !== record.child.fingerprint)
        return { kind: 'conflict', record: local };
      let outcome: LineageWrite;
      try {
        const written = await this.options.store.add(record);
        outcome = written.outcome;
        if (outcome === 'conflict') return { kind: 'conflict', record: written.record };
        this.mirror.apply(written.record);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (this.options.storeConfig.onUnavailable === 'fail-closed') throw err;
        this.hold(record, err);
        held = true;
      }
      this.unknown.delete(record.id);
    }
    this.stats.minted += records.length;
    return held ? { kind: 'held' } : { kind: 'stored' };
  }

  /**
   * The record of a minted token this instance's mirror does not hold: one store lookup per token
   * at a time (single flight), bounded by the lookup time-out; an unknown token is believed
   * unknown for NEGATIVE_CACHE_MS. Rejects with StoreUnavailableError when the store is away.
   */
  lookup(issuerId: string, jti: string): Promise<LineageRecord | undefined> {
    const local = this.mirror.find(issuerId, jti);
    if (local !== undefined) return Promise.resolve(local);
    const id = lineageId(issuerId, jti);
    const now = this.options.clock();
    const until = this.unknown.get(id);
    if (until !== undefined) {
      if (until > now) {
        this.stats.lookedUp('cached');
        return Promise.resolve(undefined);
      }
      this.unknown.delete(id);
    }
    const running = this.lookups.get(id);
    if (running !== undefined) return running;
    if (this.lookups.size >= MAX_LOOKUPS) {
      this.stats.lookedUp('unavailable');
      return Promise.reject(new StoreUnavailableError('too many lineage lookups in flight'));
    }
    const lookup = this.options.store.get(id).then(
      (record) => {
        this.lookups.delete(id);
        if (record === undefined || record.expiresAt <= this.options.clock()) {
          this.stats.lookedUp('unknown');
          if (this.unknown.size >= NEGATIVE_CACHE_ENTRIES) this.unknown.clear();
          this.unknown.set(id, this.options.clock() + NEGATIVE_CACHE_MS);
          return undefined;
        }
        this.stats.lookedUp('found');
        // Its change message is on its way; until it arrives the mirror answers from here.
        if (this.mirror.get(id) === undefined) this.mirror.apply(record);
        return record;
      },
      (err: unknown) => {
        this.lookups.delete(id);
        this.stats.lookedUp('unavailable');
        throw err;
      },
    );
    this.lookups.set(id, lookup);
    return lookup;
  }

  /** Live records with this token among their ancestors. */
  descendantsOf(issuerId: string, jti: string): LineageRecord[] {
    const now = this.options.clock();
    return this.mirror.descendantsOf(issuerId, jti).filter((r) => r.expiresAt > now);
  }

  /** How many live minted tokens a revocation takes down: those with an ancestor it reaches. */
  reached(revocation: RevocationSpec): number {
    return countReached(this.mirror.list(), revocation, this.options.clock());
  }

  private hold(record: LineageRecord, err: Error): void {
    this.mirror.apply(record);
    this.owed.set(record.id, record);
    const held: LineageEvent = {
      event: 'lineage.held',
      severity: 'high',
      child: describeChild(record.child),
      fingerprint: record.child.fingerprint,
      err: err.message,
    };
    this.options.logger.warn(
      held,
      'lineage store unavailable: minted token recorded on this instance only, sent to the store when it returns',
    );
    this.options.events?.(held, undefined);
  }

  private async flushOwed(): Promise<void> {
    if (this.owed.size === 0) return;
    const before = this.owed.size;
    await sendOwed(
      this.owed.values(),
      async (record) => {
        const written = await this.options.store.add(record);
        if (written.outcome === 'conflict') {
          const conflict: LineageEvent = {
            event: 'lineage.conflict',
            severity: 'high',
            child: describeChild(record.child),
          };
          this.options.logger.error(
            conflict,
            'a lineage record held during the outage names a token another instance recorded differently',
          );
          this.options.events?.(conflict, undefined);
        }
      },
      (record) => {
        if (this.owed.get(record.id) === record) this.owed.delete(record.id);
      },
    );
    this.options.logger.info(
      { event: 'lineage.replayed', records: before - this.owed.size },
      'lineage records held during the store outage are in the store now',
    );
  }
}

/** Live records with an ancestor that `revocation` reaches (also used by the CLI on a Redis store). */
export function countReached(
  records: Iterable<LineageRecord>,
  revocation: RevocationSpec,
  now: number,
): number {
  let n = 0;
  for (const record of records) {
    if (record.expiresAt <= now) continue;
    if (record.ancestors.some((a) => revocationReaches(revocation, a))) n += 1;
  }
  return n;
}
