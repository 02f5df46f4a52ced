import type { Logger } from 'pino';
import type { CompiledIssuer } from '../keys/issuer-registry.js';
import type { KeyTrustHost } from '../keys/key-trust-host.js';
import type { KeyScreening } from '../keys/screen-new-keys.js';
import { TrustIndex } from '../keys/trust-index.js';
import { type TrustRecord, trustRecordId } from '../keys/trust-record.js';
import { MirrorSync } from '../store/mirror-sync.js';
import { sendOwed } from '../store/mirrored-store.js';
import type { TrustAuditEntry, TrustStore, TrustWriteMode } from './trust-store.js';

/**
 * What the trust family says happened: a key appeared (quarantined), was trusted (by an
 * operator, at the first load, by its soak) or distrusted, or a flood of keys was refused. Names
 * the key by issuer, kid and thumbprint.
 */
export interface TrustEvent {
  readonly event: 'key.appeared' | 'key.trusted' | 'key.distrusted' | 'keys.quarantine_full';
  readonly severity: 'low' | 'high';
  readonly [field: string]: unknown;
}

/**
 * Takes a trust event to the security-event stream (SecurityEvents.notice, wired by the server):
 * it writes the log line with `message`, or none when `message` is undefined (written here).
 */
export type TrustEventSink = (event: TrustEvent, message: string | undefined) => void;

export interface TrustServiceOptions {
  readonly store: TrustStore;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly clock: () => number;
  /** How often the index is compared with the store, in case a pub/sub message was missed. */
  readonly resyncMs: number;
  /** The issuers in force, for their soak times; read by the soak sweep at each turn. */
  readonly issuers?: (() => Iterable<CompiledIssuer>) | undefined;
  /** How often quarantined keys are checked for a soak that passed; default 1000 ms. */
  readonly soakCheckMs?: number | undefined;
  /** The security-event stream; without it, the events are log lines only. */
  readonly events?: TrustEventSink | undefined;
}

/** Who decided, as the admin guard established it. */
export interface DecisionFacts {
  readonly by: string;
  readonly byIssuer?: string | undefined;
  readonly note?: string | undefined;
  readonly alg?: string | undefined;
  readonly x5cSubject?: string | undefined;
}

interface Owed {
  readonly record: TrustRecord;
  readonly mode: TrustWriteMode;
}

/**
 * Key trust decisions: the index the request path reads (TrustIndex), kept equal to the store by
 * the one MirrorSync, and the trust family's write policies.
 * - An operator's trust or distrust is store-first: it reaches the index only once stored, so an
 *   answered POST means every instance will see it; the store away is a 503, nothing half-done.
 * - A key's first sighting (screen-new-keys.ts) is mirror-first: it holds here at once, because
 *   the set that needs it is being installed, and it is owed to the store (stored only where
 *   nothing is, so the earliest sighting and any decision win) until the store has it.
 * - A soak that passed is written as a trust `by: soak`, only over a record still quarantined.
 */
export class TrustService implements KeyTrustHost {
  readonly index = new TrustIndex();
  private readonly sightings = new Map<string, Owed>();
  /** First-load trusts taken before the store ever answered: owed only if it confirms the first load. */
  private readonly provisional = new Map<string, TrustRecord>();
  private readonly promotions = new Map<string, Owed>();
  private readonly removals = new Set<string>();
  private readonly overflowNoted = new Map<string, string>();
  private readonly syncer: MirrorSync<TrustRecord>;
  private soakTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TrustServiceOptions) {
    this.syncer = new MirrorSync(
      options.store,
      this.index,
      {
        flushPending: () => this.flushPending(),
        // Sightings on their way must not vanish from the index meanwhile; a stored record wins.
        reinstate: async (stored) => this.reinstate(stored),
        // The store has a record under that id now (ours or another instance's): nothing owed.
        onChange: (change) => {
          if (change.op === 'add') this.sightings.delete(change.record.id);
        },
      },
      {
        family: 'trust',
        awayMessage: 'trust store unavailable; serving the last known key trust decisions',
        logger: options.logger,
        clock: options.clock,
        resyncMs: options.resyncMs,
      },
    );
  }

  get store(): TrustStore {
    return this.options.store;
  }

  async start(): Promise<void> {
    await this.syncer.start();
    this.soakTimer = setInterval(() => this.sweepSoak(), this.options.soakCheckMs ?? 1000);
    this.soakTimer.unref();
  }

  /** Sends what is still owed (when the store answers), then lets go of the store. */
  async stop(): Promise<void> {
    if (this.soakTimer !== undefined) clearInterval(this.soakTimer);
    this.soakTimer = undefined;
    await this.syncer.stop({ flush: true });
    await this.options.store.close();
  }

  sync(): Promise<void> {
    return this.syncer.sync();
  }

  staleSeconds(): number {
    return this.syncer.staleSeconds();
  }

  list(issuerId?: string): TrustRecord[] {
    return this.index.list(issuerId);
  }

  audit(limit = 1000): Promise<TrustAuditEntry[]> {
    return this.options.store.audit(limit);
  }

  /**
   * An operator trusts or distrusts one key material of one issuer. Resolves once the store has
   * it (StoreUnavailableError otherwise: nothing changed anywhere), then holds here at once; the
   * other instances hear it by the store's change messages.
   */
  async decide(
    issuerId: string,
    kid: string,
    thumbprint: string,
    state: 'trusted' | 'distrusted',
    facts: DecisionFacts,
  ): Promise<{ record: TrustRecord; previous: TrustRecord | undefined }> {
    const now = this.options.clock();
    const previous = this.index.get(issuerId, thumbprint);
    const record: TrustRecord = {
      id: trustRecordId(issuerId, thumbprint),
      issuer: issuerId,
      kid,
      thumbprint,
      state,
      since: now,
      at: new Date(now).toISOString(),
      by: facts.by,
      byIssuer: facts.byIssuer,
      note: facts.note,
      alg: facts.alg ?? previous?.alg,
      x5cSubject: facts.x5cSubject ?? previous?.x5cSubject,
    };
    const stored = await this.options.store.put(record, 'always');
    this.sightings.delete(record.id);
    this.promotions.delete(record.id);
    this.index.apply(stored.record ?? record);
    this.report(
      {
        event: state === 'trusted' ? 'key.trusted' : 'key.distrusted',
        severity: state === 'trusted' ? 'low' : 'high',
        issuerId,
        kid,
        thumbprint,
        by: facts.by,
        byIssuer: facts.byIssuer,
        note: facts.note,
        previous: previous?.state,
      },
      `key ${kid} of ${issuerId} ${state} by ${facts.by}`,
    );
    return { record, previous };
  }

  /** KeyTrustHost: what a screening decided holds here now and is owed to the store. */
  record(issuerId: string, screening: KeyScreening): void {
    for (const record of screening.trustedOnFirstLoad) {
      // Before the store ever answered, "no decision yet" may only mean "not read yet": the
      // trust holds here, and is owed only once the store shows it was the issuer's first load.
      if (this.syncer.version < 0) {
        this.index.apply(record);
        this.provisional.set(record.id, record);
      } else this.owe(this.sightings, record, 'if-absent');
      this.report(
        { event: 'key.trusted', severity: 'low', ...describe(record), by: record.by },
        `key ${record.kid} of ${issuerId} trusted: present at the issuer's first load`,
      );
    }
    for (const record of screening.appeared) {
      this.owe(this.sightings, record, 'if-absent');
      this.report(
        { event: 'key.appeared', severity: 'high', ...describe(record), state: 'quarantined' },
        `new key ${record.kid} of ${issuerId} quarantined until trusted (POST /keys/${issuerId}/${record.kid}/trust)`,
      );
    }
    for (const id of screening.unpublished) {
      this.index.remove(id);
      this.removals.add(id);
    }
    this.noteOverflow(issuerId, screening);
    if (this.sightings.size > 0 || this.removals.size > 0) this.requestSync();
  }

  /**
   * What the index keeps beyond a reloaded snapshot: sightings on their way (a stored record
   * wins), and provisional first-load trusts of issuers the store knows nothing of. Those of an
   * issuer the store does know are dropped: its keys without a record stay quarantined.
   */
  private reinstate(stored: readonly TrustRecord[]): TrustRecord[] {
    const ids = new Set(stored.map((r) => r.id));
    const known = new Set(stored.map((r) => r.issuer));
    for (const record of this.provisional.values()) {
      if (!known.has(record.issuer)) this.sightings.set(record.id, { record, mode: 'if-absent' });
    }
    if (this.provisional.size > 0) {
      this.provisional.clear();
      queueMicrotask(() => this.requestSync());
    }
    return [...this.sightings.values()].map((o) => o.record).filter((r) => !ids.has(r.id));
  }

  private owe(into: Map<string, Owed>, record: TrustRecord, mode: TrustWriteMode): void {
    this.index.apply(record);
    into.set(record.id, { record, mode });
  }

  /** One summary event per flood: said again only when the refused keys change. */
  private noteOverflow(issuerId: string, screening: KeyScreening): void {
    const refused = screening.overflow;
    const signature = refused.map((k) => k.thumbprint).join(',');
    if (refused.length === 0) {
      this.overflowNoted.delete(issuerId);
      return;
    }
    if (this.overflowNoted.get(issuerId) === signature) return;
    this.overflowNoted.set(issuerId, signature);
    const event: TrustEvent = {
      event: 'keys.quarantine_full',
      severity: 'high',
      issuerId,
      refused: refused.length,
      kids: refused.slice(0, 20).map((k) => k.kid.slice(0, 128)),
    };
    // Logged as an error (a key set the gateway cannot use in full), above its severity's level.
    this.options.logger.error(
      event,
      `key set of ${issuerId} serves ${refused.length} more new keys than keys.maxQuarantined allows; they are not used (unknown_key)`,
    );
    this.options.events?.(event, undefined);
  }

  private async flushPending(): Promise<void> {
    const store = this.options.store;
    for (const owed of [this.sightings, this.promotions]) {
      await sendOwed(
        owed.values(),
        async (o) => {
          const stored = await store.put(o.record, o.mode);
          // Not written: the store holds another record under the id, and it is the truth.
          if (!stored.written && stored.record !== undefined) this.index.apply(stored.record);
          if (stored.written && o.mode === 'if-quarantined') this.soaked(o.record);
        },
        (o) => {
          if (owed.get(o.record.id) === o) owed.delete(o.record.id);
        },
      );
    }
    await sendOwed(
      this.removals,
      (id) => store.removeQuarantined(id, 'refresh'),
      (id) => this.removals.delete(id),
    );
  }

  private soaked(record: TrustRecord): void {
    this.index.apply(record);
    this.report(
      { event: 'key.trusted', severity: 'low', ...describe(record), by: 'soak' },
      `key ${record.kid} of ${record.issuer} trusted: its quarantine soak time passed`,
    );
  }

  /** Quarantined keys whose soak passed are trusted in the store too, with an event, once. */
  private sweepSoak(): void {
    const now = this.options.clock();
    let found = false;
    for (const issuer of this.options.issuers?.() ?? []) {
      const policy = issuer.trust;
      if (policy === undefined || !policy.quarantineNewKeys || policy.quarantineMs === undefined) continue;
      for (const record of this.index.list(issuer.id)) {
        if (record.state !== 'quarantined' || now < record.since + policy.quarantineMs) continue;
        if (this.sightings.has(record.id) || this.promotions.has(record.id)) continue;
        const at = new Date(now).toISOString();
        this.promotions.set(record.id, {
          record: { ...record, state: 'trusted', by: 'soak', at, since: now },
          mode: 'if-quarantined',
        });
        found = true;
      }
    }
    if (found) this.requestSync();
  }

  /** One log line at the event's level, through the security-event stream when it is wired. */
  private report(event: TrustEvent, message: string): void {
    const sink = this.options.events;
    if (sink !== undefined) sink(event, message);
    else if (event.severity === 'low') this.options.logger.info(event, message);
    else this.options.logger.warn(event, message);
  }

  private requestSync(): void {
    // Errors are logged by the sync itself; a timer or a refresh has nobody to hand one to.
    this.syncer.sync().catch(() => {});
  }
}

function describe(record: TrustRecord): Record<string, unknown> {
  return {
    issuerId: record.issuer,
    kid: record.kid.slice(0, 256),
    thumbprint: record.thumbprint,
    alg: record.alg,
    x5cSubject: record.x5cSubject,
  };
}
