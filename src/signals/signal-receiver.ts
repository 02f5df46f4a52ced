import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { IssuerRegistry } from '../keys/issuer-registry.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { AuthFailure } from '../verify/auth-failure.js';
import type { Severity } from '../verify/reasons.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import { appliedKey, applyPlan, VERIFICATION_UNEXPECTED } from './apply-signal.js';
import type { CompiledSignals } from './compile-signals.js';
import { eventNameOf } from './event-types.js';
import { mapEvent } from './map-event.js';
import { requestVerification, VerificationRequestError } from './request-verification.js';
import { ForeignKeyError, TransmitterKeysUnavailable } from './select-set-key.js';
import { SetError } from './set-error.js';
import { SetPoller } from './set-poller.js';
import type { SignalMirror } from './signal-mirror.js';
import type { SignalState } from './signal-state.js';
import { SignalStats } from './signal-stats.js';
import type { SignalBlock, TransmitterState } from './signal-store.js';
import { describeSubject } from './subject-id.js';
import { type Arrival, type SetFacts, setFingerprint, type ValidSet, validateSet } from './validate-set.js';

export interface ReceiverDeps {
  readonly signals: CompiledSignals;
  readonly revocations: RevocationService;
  /** Blocks and transmitter states, mirrored through the one MirrorSync; the applied-SET record. */
  readonly state: SignalState;
  readonly logger: Logger;
  readonly events: SecurityEvents;
  readonly clock: () => number;
  /** The token issuers in force: a reload replaces them. */
  readonly tokenIssuers: () => IssuerRegistry;
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
// How long a verification asked for waits for its SET (a polled transmitter's included).
export const VERIFICATION_TTL_MS = 10 * 60_000;

/** A verification asked for: its SET comes back later, to this or any other instance. */
export interface VerificationRequested {
  readonly transmitter: string;
  readonly endpoint: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
}

/**
 * The Shared Signals receiver: validates SETs (push and poll alike), applies each once, and keeps
 * the signal family (SignalState) whose mirror the request path reads: blocks, streams down.
 */
export class SignalReceiver {
  readonly stats: SignalStats;
  private readonly logger: Logger;
  private readonly inFlight = new Map<string, Promise<SetOutcome>>();
  private readonly pollers: SetPoller[] = [];
  private readonly mirror: SignalMirror;

  constructor(private readonly deps: ReceiverDeps) {
    this.mirror = deps.state.mirror;
    this.stats = new SignalStats(deps.signals.byName.keys());
    this.logger = deps.logger.child({ component: 'signals' });
  }

  get pushPath(): string {
    return this.deps.signals.pushPath;
  }

  async start(): Promise<void> {
    const { signals, state } = this.deps;
    signals.keySets.start(this.logger);
    await state.start();
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
    this.deps.signals.keySets.stop();
    await Promise.allSettled(this.inFlight.values());
    await this.deps.state.stop();
  }

  /**
   * The request-path step: a subject blocked by a signal on this route, or a token too old while
   * the stream that would revoke it is down. Map lookups only; nothing at all while none apply.
   */
  check(token: VerifiedToken, routeName: string, nowMs: number): void {
    const mirror = this.mirror;
    if (mirror.hasBlocks && token.claims.sub !== undefined) {
      const blocks = mirror.blocksOf(token.issuer.id, token.claims.sub);
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
    if (mirror.hasDownStreams) {
      const maxAge = mirror.downCapOf(token.issuer.id);
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
    const { state, clock } = this.deps;
    const name = set.eventName ?? set.eventUri;
    const base = this.logFields(set, via);
    if (await state.wasApplied(key)) {
      this.stats.count(set.transmitter.name, set.eventName ?? 'unknown', 'duplicate');
      this.logger.info(
        { event: 'signal.duplicate', ...base },
        `SET ${set.jti} of ${set.transmitter.name} already applied`,
      );
      return { status: 'duplicate', set };
    }
    const results = await applyPlan(set, plan, {
      revocations: this.deps.revocations,
      state,
      logger: this.logger,
      clock,
    });
    const ttlMs =
      (set.transmitter.maxAgeSeconds + set.transmitter.clockSkewSeconds) * 1000 + APPLIED_MARGIN_MS;
    await state.markApplied(key, ttlMs);
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
    if (results.some((r) => r.action === 'verification' && r.result === VERIFICATION_UNEXPECTED))
      this.logger.warn(
        { event: 'signal.verification_unexpected', ...base },
        `verification SET from ${set.transmitter.name} with a state not asked for, expired or already used: acknowledged, stream not verified`,
      );
    // `rule` as when high and critical signals were anomalies: the stream's kind stays the same.
    this.deps.events.notice({ ...fields, rule: `signal.${name}` }, undefined);
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
      this.deps.events.notice({ ...logged, rule: 'signal.refused' }, undefined);
      if (facts.transmitter !== undefined)
        void this.note(facts.transmitter, {
          lastErrorAt: new Date(this.deps.clock()).toISOString(),
          lastError: `${err.err}: ${err.description}`,
        });
      return { status: 'refused', error: err };
    }
    if (err instanceof StoreUnavailableError || err instanceof TransmitterKeysUnavailable) {
      this.stats.count(facts.transmitter, event, 'unavailable');
      const unavailable = {
        event: 'signal.unavailable',
        ...fields,
        severity: 'high' as const,
        why: err.message,
      };
      this.logger.warn(unavailable, `SET not applied, to be sent again: ${err.message}`);
      this.deps.events.notice(unavailable, undefined);
      return { status: 'unavailable', why: err.message };
    }
    throw err;
  }

  /** Every transmitter, with what every instance knows of it (the mirror) and this one's poller. */
  async status(): Promise<TransmitterStatus[]> {
    const mirror = this.mirror;
    const keys = new Map(this.deps.signals.keySets.status().map((s) => [s.issuerId, s]));
    return [...this.deps.signals.byName.values()].map((t) => {
      const state = mirror.transmitter(t.name) ?? {};
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
    return this.mirror.blocks();
  }

  /** Brings blocks and stream states up to the store (tests; the sync runs by itself). */
  sync(): Promise<void> {
    return this.deps.state.sync();
  }

  /**
   * Lifts a block an operator judged wrong, on every instance (stored first). A later signal of
   * the same kind for the subject decides again, as it would have anyway. False: no such block.
   */
  async unblock(id: string, by: string): Promise<boolean> {
    const block = this.mirror.block(id);
    if (block === undefined) return false;
    await this.deps.state.removeBlock(id);
    const lifted = {
      event: 'signal.block_lifted',
      severity: 'high' as const,
      id,
      by,
      transmitter: block.transmitter,
      issuerId: block.issuerId,
      sub: block.sub,
      signal: block.signal,
    };
    this.logger.warn(
      lifted,
      `signal block ${id} (${block.signal} ${block.value} for ${block.sub}) lifted by ${by}`,
    );
    this.deps.events.notice(lifted, undefined);
    return true;
  }

  /**
   * Asks the transmitter for a verification event with a fresh state (SSF 1.0 section 8.1.4).
   * The state is stored first, so that the SET coming back to any instance, even before the
   * transmitter answers here, finds it; it counts once and expires after VERIFICATION_TTL_MS.
   */
  async verify(name: string, by: string): Promise<VerificationRequested> {
    const transmitter = this.deps.signals.byName.get(name);
    if (transmitter === undefined)
      throw new VerificationRequestError(404, 'unknown_transmitter', `no transmitter ${name}`);
    const state = randomBytes(16).toString('base64url');
    const now = this.deps.clock();
    await this.deps.state.expectVerification(name, state, VERIFICATION_TTL_MS);
    const fields = { event: 'signal.verification_requested', transmitter: name, by };
    let endpoint: string;
    try {
      endpoint = await requestVerification(transmitter, state);
    } catch (err) {
      if (err instanceof VerificationRequestError)
        this.logger.warn(
          { ...fields, code: err.code, why: err.message },
          `verification of ${name} failed: ${err.message}`,
        );
      throw err;
    }
    this.logger.info({ ...fields, endpoint }, `verification of ${name} asked for by ${by} at ${endpoint}`);
    return {
      transmitter: name,
      endpoint,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + VERIFICATION_TTL_MS).toISOString(),
    };
  }

  /** Bookkeeping for status: best effort, never the reason a SET fails. */
  private async note(name: string, patch: TransmitterState): Promise<void> {
    try {
      await this.deps.state.patchTransmitter(name, patch);
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
