import type { Logger } from 'pino';
import type { IssuerRegistry } from '../keys/issuer-registry.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { AuthFailure } from '../verify/auth-failure.js';
import type { Severity } from '../verify/reasons.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import { appliedKey, applyPlan } from './apply-signal.js';
import type { CompiledSignals } from './compile-signals.js';
import { eventNameOf } from './event-types.js';
import { mapEvent } from './map-event.js';
import { ForeignKeyError, TransmitterKeysUnavailable } from './select-set-key.js';
import { SetError } from './set-error.js';
import { SetPoller } from './set-poller.js';
import { SignalStats } from './signal-stats.js';
import type { SignalBlock, SignalStore, TransmitterState } from './signal-store.js';
import { describeSubject } from './subject-id.js';
import { type Arrival, type SetFacts, setFingerprint, type ValidSet, validateSet } from './validate-set.js';

export interface ReceiverDeps {
  readonly signals: CompiledSignals;
  readonly revocations: RevocationService;
  readonly store: SignalStore;
  readonly logger: Logger;
  readonly events: SecurityEvents;
  readonly clock: () => number;
  /** The token issuers in force: a reload replaces them. */
  readonly tokenIssuers: () => IssuerRegistry;
  /** How often blocks and stream states are read again in case a change message was missed. */
  readonly resyncSeconds: number;
}

/** What became of one SET: the push answer and the poll acknowledgement both follow from it. */
export type SetOutcome =
  | { readonly status: 'applied' | 'duplicate' | 'ignored'; readonly set: ValidSet }
  | { readonly status: 'refused'; readonly error: SetError }
  /** Nothing was acknowledged: the store or the transmitter's keys are away; send it again later. */
  | { readonly status: 'unavailable'; readonly why: string };

/** One transmitter as `provgate signals status`, GET /signals and the dashboard show it. */
export interface TransmitterStatus extends TransmitterState {
  readonly name: string;
  readonly issuer: string;
  readonly delivery: 'push' | 'poll';
  readonly governs: readonly string[];
  /** False while the stream is paused or disabled (stream-updated). */
  readonly up: boolean;
  readonly keys: {
    readonly source: string;
    readonly loaded: boolean;
    readonly keyCount: number;
    readonly lastError: string | undefined;
  };
  readonly poll?: ReturnType<SetPoller['status']> | undefined;
}

// A SET is remembered as applied a little longer than it can be accepted at all.
const APPLIED_MARGIN_MS = 60_000;

/**
 * The Shared Signals receiver: validates SETs (push and poll alike), applies each once, and keeps
 * the in-memory view the request path reads (blocks, transmitters whose stream is down).
 */
export class SignalReceiver {
  readonly stats: SignalStats;
  private readonly logger: Logger;
  private readonly inFlight = new Map<string, Promise<SetOutcome>>();
  private readonly pollers: SetPoller[] = [];
  private blocksBySubject = new Map<string, SignalBlock[]>();
  /** Issuer id -> the shortest maxTokenAgeSeconds of a fail-closed transmitter whose stream is down. */
  private downCaps = new Map<string, number>();
  private shared: Record<string, TransmitterState> = {};
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ReceiverDeps) {
    this.stats = new SignalStats(deps.signals.byName.keys());
    this.logger = deps.logger.child({ component: 'signals' });
    deps.store.onChange(() => void this.refreshShared());
    deps.store.onReconnect(() => void this.refreshShared());
  }

  get pushPath(): string {
    return this.deps.signals.pushPath;
  }

  async start(): Promise<void> {
    const { signals, store } = this.deps;
    signals.keySets.start(this.logger);
    await store.settled();
    await this.refreshShared();
    this.timer = setInterval(() => void this.refreshShared(), this.deps.resyncSeconds * 1000);
    this.timer.unref();
    for (const transmitter of signals.byName.values()) {
      if (transmitter.delivery !== 'poll') continue;
      const poller = new SetPoller({
        transmitter,
        receive: (raw, jti) => this.receive(raw, { via: 'poll', transmitter, jti }),
        logger: this.logger,
        clock: this.deps.clock,
      });
      this.pollers.push(poller);
      poller.start();
    }
  }

  /** Pollers stop first (a batch in progress is left unacknowledged, so it comes again). */
  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
    if (this.timer !== undefined) clearInterval(this.timer);
    this.deps.signals.keySets.stop();
    await Promise.allSettled(this.inFlight.values());
    await this.refreshing;
    await this.deps.store.close();
  }

  /**
   * The request-path step: a subject blocked by a signal on this route, or a token too old while
   * the stream that would revoke it is down. Map lookups only; nothing at all while none apply.
   */
  check(token: VerifiedToken, routeName: string, nowMs: number): void {
    if (this.blocksBySubject.size > 0 && token.claims.sub !== undefined) {
      const blocks = this.blocksBySubject.get(`${token.issuer.id}\u0000${token.claims.sub}`);
      if (blocks !== undefined) {
        for (const block of blocks) {
          const routes = this.deps.signals.blockOn.get(block.signal)?.routes;
          if (routes === undefined || routes.has(routeName))
            throw new AuthFailure(
              'signal_blocked',
              refusalDetail(
                token,
                `${block.signal} ${block.value} (ssf:${block.transmitter}, SET ${block.jti})`,
              ),
            );
        }
      }
    }
    if (this.downCaps.size > 0) {
      const maxAge = this.downCaps.get(token.issuer.id);
      if (maxAge !== undefined && (token.claims.iat ?? 0) * 1000 < nowMs - maxAge * 1000)
        throw new AuthFailure(
          'signal_stream_down',
          refusalDetail(token, `token older than ${maxAge} s while the stream is down`),
        );
    }
  }

  /** Validates and applies one SET. Never rejects for a bad SET: that is an outcome. */
  async receive(raw: string, arrival: Arrival): Promise<SetOutcome> {
    const facts: SetFacts = { fingerprint: setFingerprint(raw) };
    const nowMs = this.deps.clock();
    const via = arrival.via;
    let set: ValidSet | undefined;
    try {
      set = await validateSet(
        raw,
        { signals: this.deps.signals, tokenIssuers: this.deps.tokenIssuers(), nowMs, arrival },
        facts,
      );
      const plan = mapEvent(set, {
        tokenIssuers: this.deps.tokenIssuers(),
        blockOn: this.deps.signals.blockOn,
        nowMs,
      });
      const key = appliedKey(set.transmitter.iss, set.jti);
      // The same SET twice at once (a retry racing its original): the second waits for the first.
      const running = this.inFlight.get(key);
      if (running !== undefined) {
        const first = await running;
        return first.status === 'applied' || first.status === 'ignored'
          ? { status: 'duplicate', set }
          : first;
      }
      const valid = set;
      const work = this.applyOnce(valid, plan, key, via);
      this.inFlight.set(key, work);
      try {
        return await work;
      } finally {
        this.inFlight.delete(key);
      }
    } catch (err) {
      return this.failed(err, facts, via);
    }
  }

  private async applyOnce(
    set: ValidSet,
    plan: ReturnType<typeof mapEvent>,
    key: string,
    via: Arrival['via'],
  ): Promise<SetOutcome> {
    const { store, clock } = this.deps;
    const name = set.eventName ?? set.eventUri;
    const base = this.logFields(set, via);
    if (await store.wasApplied(key)) {
      this.stats.count(set.transmitter.name, set.eventName ?? 'unknown', 'duplicate');
      this.logger.info(
        { event: 'signal.duplicate', ...base },
        `SET ${set.jti} of ${set.transmitter.name} already applied`,
      );
      return { status: 'duplicate', set };
    }
    const results = await applyPlan(set, plan, {
      revocations: this.deps.revocations,
      store,
      logger: this.logger,
      clock,
    });
    const ttlMs =
      (set.transmitter.maxAgeSeconds + set.transmitter.clockSkewSeconds) * 1000 + APPLIED_MARGIN_MS;
    await store.markApplied(key, ttlMs);
    const status = plan.ignored === undefined ? 'applied' : 'ignored';
    this.stats.count(set.transmitter.name, set.eventName ?? 'unknown', status);
    const fields = {
      event: `signal.${status}`,
      ...base,
      summary: plan.summary,
      severity: plan.severity,
      results,
      ignored: plan.ignored,
    };
    const message =
      plan.severity === 'critical'
        ? `SHARED SIGNAL (critical): ${set.transmitter.name} reports ${plan.summary} for ${base.subject}`
        : `shared signal from ${set.transmitter.name}: ${plan.summary}${plan.ignored === undefined ? '' : ` (${plan.ignored})`}`;
    this.log(plan.severity, fields, message);
    if (plan.severity !== 'low')
      this.deps.events.anomaly({ ...fields, event: 'anomaly', rule: `signal.${name}` });
    void this.note(set.transmitter.name, {
      lastEventAt: new Date(clock()).toISOString(),
      lastEvent: name,
      lastJti: set.jti,
    });
    return { status, set };
  }

  private failed(err: unknown, facts: SetFacts, via: Arrival['via']): SetOutcome {
    const event = facts.eventUri === undefined ? undefined : (eventNameOf(facts.eventUri) ?? 'unknown');
    const fields = {
      transmitter: facts.transmitter,
      iss: facts.iss,
      jti: facts.jti,
      eventType: facts.eventUri,
      setFingerprint: facts.fingerprint,
      via,
    };
    if (err instanceof SetError) {
      this.stats.count(facts.transmitter, event, err.err);
      const foreign = err instanceof ForeignKeyError ? err.foreign : undefined;
      const severity: Severity =
        foreign?.signatureValid === true
          ? 'critical'
          : err.err === 'invalid_key' || err.err === 'authentication_failed'
            ? 'high'
            : 'low';
      const logged = {
        event: 'signal.refused',
        ...fields,
        err: err.err,
        description: err.description,
        severity,
        keyOwner: foreign?.owner,
        signatureValid: foreign?.signatureValid,
      };
      const message =
        severity === 'critical'
          ? `FORGED SIGNAL: a SET for ${facts.transmitter ?? facts.iss} verifies under a key of ${foreign?.owner}; someone holds that key`
          : `SET refused: ${err.err} (${err.description})`;
      this.log(severity, logged, message);
      if (severity !== 'low')
        this.deps.events.anomaly({ ...logged, event: 'anomaly', rule: 'signal.refused' });
      if (facts.transmitter !== undefined)
        void this.note(facts.transmitter, {
          lastErrorAt: new Date(this.deps.clock()).toISOString(),
          lastError: `${err.err}: ${err.description}`,
        });
      return { status: 'refused', error: err };
    }
    if (err instanceof StoreUnavailableError || err instanceof TransmitterKeysUnavailable) {
      this.stats.count(facts.transmitter, event, 'unavailable');
      this.logger.warn(
        { event: 'signal.unavailable', ...fields, why: err.message },
        `SET not applied, to be sent again: ${err.message}`,
      );
      return { status: 'unavailable', why: err.message };
    }
    throw err;
  }

  /** Every transmitter, with what every instance knows of it (the store) and this one's poller. */
  async status(): Promise<TransmitterStatus[]> {
    try {
      this.shared = await this.deps.store.transmitters();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
    }
    const keys = new Map(this.deps.signals.keySets.status().map((s) => [s.issuerId, s]));
    return [...this.deps.signals.byName.values()].map((t) => {
      const state = this.shared[t.name] ?? {};
      const k = keys.get(t.name);
      const poller = this.pollers.find((p) => p.transmitter === t);
      return {
        ...state,
        name: t.name,
        issuer: t.iss,
        delivery: t.delivery,
        governs: t.governs,
        up: state.stream === undefined || state.stream === 'enabled',
        keys: {
          source: k?.source ?? '',
          loaded: k?.loaded ?? false,
          keyCount: k?.keyCount ?? 0,
          lastError: k?.lastError,
        },
        poll: poller?.status(),
      };
    });
  }

  /** Blocks in force, for the admin API. */
  blocks(): SignalBlock[] {
    return [...this.blocksBySubject.values()].flat();
  }

  /**
   * Lifts a block an operator judged wrong, on every instance (stored first). A later signal of
   * the same kind for the subject decides again, as it would have anyway. False: no such block.
   */
  async unblock(id: string, by: string): Promise<boolean> {
    const block = this.blocks().find((b) => b.id === id);
    if (block === undefined) return false;
    await this.deps.store.removeBlock(id);
    await this.refreshShared();
    this.logger.warn(
      {
        event: 'signal.block_lifted',
        id,
        by,
        transmitter: block.transmitter,
        issuerId: block.issuerId,
        sub: block.sub,
        signal: block.signal,
      },
      `signal block ${id} (${block.signal} ${block.value} for ${block.sub}) lifted by ${by}`,
    );
    return true;
  }

  /** Reads blocks and stream states again; a change during a read makes one more read after it. */
  refreshShared(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const run = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const [blocks, transmitters] = await Promise.all([
            this.deps.store.blocks(),
            this.deps.store.transmitters(),
          ]);
          this.index(blocks, transmitters);
        } catch (err) {
          // Away: the last known blocks and states stay in force until the store answers. Any
          // other error is a bug: logged, never an unhandled rejection of a timer or a message.
          if (!(err instanceof StoreUnavailableError))
            this.logger.error({ err, event: 'signal.sync_failed' }, 'reading signal state failed');
          return;
        }
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = undefined;
    });
    this.refreshing = run;
    return run;
  }

  private index(blocks: readonly SignalBlock[], transmitters: Record<string, TransmitterState>): void {
    const bySubject = new Map<string, SignalBlock[]>();
    for (const block of blocks) {
      const key = `${block.issuerId}\u0000${block.sub}`;
      const list = bySubject.get(key);
      if (list === undefined) bySubject.set(key, [block]);
      else list.push(block);
    }
    const caps = new Map<string, number>();
    for (const t of this.deps.signals.byName.values()) {
      const stream = transmitters[t.name]?.stream;
      if (stream !== 'paused' && stream !== 'disabled') continue;
      if (t.onStreamDown !== 'fail-closed' || t.maxTokenAgeSeconds === undefined) continue;
      for (const issuerId of t.governs)
        caps.set(issuerId, Math.min(caps.get(issuerId) ?? Infinity, t.maxTokenAgeSeconds));
    }
    this.blocksBySubject = bySubject;
    this.downCaps = caps;
    this.shared = transmitters;
  }

  /** Bookkeeping for status: best effort, never the reason a SET fails. */
  private async note(name: string, patch: TransmitterState): Promise<void> {
    try {
      await this.deps.store.patchTransmitter(name, patch, false);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError))
        this.logger.error({ err, event: 'signal.status_failed' }, 'transmitter status not recorded');
    }
  }

  private logFields(set: ValidSet, via: Arrival['via']) {
    return {
      transmitter: set.transmitter.name,
      iss: set.transmitter.iss,
      jti: set.jti,
      eventType: set.eventName ?? set.eventUri,
      subject: set.subject === undefined ? undefined : describeSubject(set.subject),
      txn: set.txn,
      kid: set.kid,
      setFingerprint: set.fingerprint,
      via,
    };
  }

  private log(severity: Severity, fields: Record<string, unknown>, message: string): void {
    if (severity === 'critical') this.logger.error(fields, message);
    else if (severity === 'high') this.logger.warn(fields, message);
    else this.logger.info(fields, message);
  }
}

function refusalDetail(token: VerifiedToken, note: string) {
  return {
    claimedIssuer: token.issuer.iss,
    issuerId: token.issuer.id,
    kid: token.key.kid,
    alg: token.alg,
    sub: token.claims.sub,
    jti: token.claims.jti,
    note,
  };
}
