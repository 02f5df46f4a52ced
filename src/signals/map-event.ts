import type { CompiledIssuer, IssuerRegistry } from '../keys/issuer-registry.js';
import type { Severity } from '../verify/reasons.js';
import type { BlockRule } from './compile-signals.js';
import type { BlockingEvent } from './event-types.js';
import { SetError } from './set-error.js';
import type { SimpleSubject, SubjectId } from './subject-id.js';
import type { ValidSet } from './validate-set.js';

/** One thing a SET makes the gateway do. Times are epoch seconds. */
export type SignalAction =
  /** Refuse the subject's tokens issued at or before `at`; a watermark only ever rises. */
  | { readonly do: 'watermark'; readonly issuerId: string; readonly sub: string; readonly at: number }
  | {
      readonly do: 'revoke-session';
      readonly issuerId: string;
      readonly sid: string;
      readonly exp: number | undefined;
    }
  | {
      readonly do: 'revoke-token';
      readonly issuerId: string;
      readonly jti: string;
      readonly exp: number | undefined;
    }
  | {
      readonly do: 'account';
      readonly issuerId: string;
      readonly sub: string;
      readonly state: 'disabled' | 'enabled' | 'purged';
      readonly at: number;
    }
  | {
      readonly do: 'block';
      readonly issuerId: string;
      readonly sub: string;
      readonly signal: BlockingEvent;
      readonly value: string;
      /** False lifts a block this signal set before. */
      readonly blocked: boolean;
      readonly at: number;
    }
  | {
      readonly do: 'stream';
      readonly state: 'enabled' | 'paused' | 'disabled';
      readonly reason: string | undefined;
      readonly at: number;
    }
  | { readonly do: 'verification'; readonly state: string | undefined };

export interface SignalPlan {
  readonly actions: readonly SignalAction[];
  readonly severity: Severity;
  /** What the SET says, for the log line. */
  readonly summary: string;
  /** Set when the SET is acknowledged without any effect, saying why. */
  readonly ignored: string | undefined;
}

export interface MappingContext {
  readonly tokenIssuers: IssuerRegistry;
  readonly blockOn: ReadonlyMap<BlockingEvent, BlockRule>;
  readonly nowMs: number;
}

interface Targets {
  readonly users: { issuerId: string; sub: string }[];
  readonly sessions: { issuerId: string; sid: string }[];
  readonly tokens: { issuerId: string; jti: string }[];
}

const CHANGE_TYPES = new Set(['create', 'revoke', 'update', 'delete']);
const COMPLIANCE = new Set(['compliant', 'not-compliant']);
const RISK_LEVELS = new Set(['LOW', 'MEDIUM', 'HIGH']);
const STREAM_STATES = new Set(['enabled', 'paused', 'disabled']);

/**
 * What one valid SET means for the gateway (the mapping table of the README's "Shared signals"):
 * a pure function, so every row is tested without I/O. A payload that does not conform to its
 * event's definition is invalid_request (RFC 8935 section 2.4), never a guess.
 */
export function mapEvent(set: ValidSet, ctx: MappingContext): SignalPlan {
  const { event, eventName } = set;
  const at = eventTime(set, ctx.nowMs);
  const plan = (actions: SignalAction[], severity: Severity, summary: string): SignalPlan => ({
    actions,
    severity,
    summary,
    ignored: actions.length === 0 ? 'the subject names no token this gateway governs' : undefined,
  });
  const note = (summary: string, why: string, severity: Severity = 'low'): SignalPlan => ({
    actions: [],
    severity,
    summary,
    ignored: why,
  });
  const critical = uncomprehendedCritical(set);
  if (critical !== undefined)
    return note(
      `${eventName ?? set.eventUri}`,
      `discarded: the subject carries the critical member ${critical}, which this receiver does not act on (SSF 1.0 section 3.6)`,
    );
  switch (eventName) {
    case undefined:
      return note(`event ${set.eventUri}`, 'unknown event type: acknowledged, not acted on');
    case 'session-revoked':
    case 'sessions-revoked': {
      const t = targetsOf(set, ctx, { opaqueIs: 'session' });
      return plan(
        [...sessionActions(t, at, ctx), ...tokenActions(t, at, ctx), ...watermarks(t, at)],
        'high',
        `${eventName}${reasonOf(event)}`,
      );
    }
    case 'credential-change': {
      requireText(event, 'credential_type');
      const change = requireOneOf(event, 'change_type', CHANGE_TYPES);
      const summary = `credential-change ${change} of ${String(event.credential_type)}`;
      if (change === 'create') {
        // A credential added by someone other than the user is worth a look, not a revocation.
        const byOther = event.initiating_entity !== undefined && event.initiating_entity !== 'user';
        return note(summary, 'a created credential revokes nothing', byOther ? 'high' : 'low');
      }
      const t = targetsOf(set, ctx, { opaqueIs: 'user' });
      return plan([...userFirst(t, at, ctx), ...tokenActions(t, at, ctx)], 'high', summary);
    }
    case 'token-claims-change': {
      if (event.claims === null || typeof event.claims !== 'object' || Array.isArray(event.claims))
        throw new SetError('invalid_request', 'token-claims-change: claims must be an object');
      const t = targetsOf(set, ctx, { opaqueIs: 'user' });
      return plan([...tokenActions(t, at, ctx), ...userFirst(t, at, ctx)], 'high', 'token-claims-change');
    }
    case 'account-disabled':
    case 'account-enabled':
    case 'account-purged': {
      const state =
        eventName === 'account-disabled'
          ? 'disabled'
          : eventName === 'account-enabled'
            ? 'enabled'
            : 'purged';
      const t = targetsOf(set, ctx, { opaqueIs: 'user' });
      const actions: SignalAction[] = t.users.map((u) => ({ do: 'account', ...u, state, at }));
      return plan(actions, state === 'enabled' ? 'low' : 'high', `${eventName}${reasonOf(event)}`);
    }
    case 'credential-compromise': {
      requireText(event, 'credential_type');
      const t = targetsOf(set, ctx, { opaqueIs: 'user' });
      return plan(
        [...userFirst(t, at, ctx), ...tokenActions(t, at, ctx)],
        'critical',
        `credential-compromise of ${String(event.credential_type)}`,
      );
    }
    case 'assurance-level-change': {
      requireText(event, 'namespace');
      const level = requireText(event, 'current_level');
      const direction = event.change_direction;
      if (direction !== undefined && direction !== 'increase' && direction !== 'decrease')
        throw new SetError(
          'invalid_request',
          'assurance-level-change: change_direction must be increase or decrease',
        );
      const values = direction === undefined ? [level] : [direction, level];
      return blockPlan(set, ctx, 'assurance-level-change', values, at, `assurance-level-change to ${level}`);
    }
    case 'device-compliance-change': {
      requireOneOf(event, 'previous_status', COMPLIANCE);
      const current = requireOneOf(event, 'current_status', COMPLIANCE);
      return blockPlan(
        set,
        ctx,
        'device-compliance-change',
        [current],
        at,
        `device-compliance-change to ${current}`,
      );
    }
    case 'risk-level-change': {
      requireText(event, 'principal');
      const level = requireOneOf(event, 'current_level', RISK_LEVELS);
      return blockPlan(set, ctx, 'risk-level-change', [level], at, `risk-level-change to ${level}`);
    }
    case 'session-established':
    case 'session-presented':
      return note(eventName, 'informational: nothing to revoke');
    case 'verification': {
      const state = event.state;
      if (state !== undefined && typeof state !== 'string')
        throw new SetError('invalid_request', 'verification: state must be a string');
      return {
        actions: [{ do: 'verification', state }],
        severity: 'low',
        summary: 'verification',
        ignored: undefined,
      };
    }
    case 'stream-updated': {
      const state = requireOneOf(event, 'status', STREAM_STATES) as 'enabled' | 'paused' | 'disabled';
      const reason = typeof event.reason === 'string' ? event.reason : undefined;
      return {
        actions: [{ do: 'stream', state, reason, at }],
        severity: state === 'enabled' ? 'low' : 'critical',
        summary: `stream ${state}${reason === undefined ? '' : ` (${reason})`}`,
        ignored: undefined,
      };
    }
  }
}

// The complex-subject members a revocation is taken from; any other critical one is not understood.
const UNDERSTOOD_MEMBERS: ReadonlySet<string> = new Set(['user', 'session']);

function uncomprehendedCritical(set: ValidSet): string | undefined {
  const subject = set.subject;
  if (subject?.format !== 'complex' || set.transmitter.criticalMembers.size === 0) return undefined;
  return subject.members.find((m) => !UNDERSTOOD_MEMBERS.has(m) && set.transmitter.criticalMembers.has(m));
}

function blockPlan(
  set: ValidSet,
  ctx: MappingContext,
  signal: BlockingEvent,
  values: readonly string[],
  at: number,
  summary: string,
): SignalPlan {
  const rule = ctx.blockOn.get(signal);
  if (rule === undefined)
    return { actions: [], severity: 'low', summary, ignored: `no signals.blockOn.${signal}: recorded only` };
  const blocked = values.some((v) => rule.values.has(v));
  const t = targetsOf(set, ctx, { opaqueIs: 'user' });
  const actions: SignalAction[] = t.users.map((u) => ({
    do: 'block',
    ...u,
    signal,
    value: values.at(-1)!,
    blocked,
    at,
  }));
  return {
    actions,
    severity: blocked ? 'high' : 'low',
    summary,
    ignored: actions.length === 0 ? 'the subject names no token this gateway governs' : undefined,
  };
}

/** Sessions, tokens, or else the user: a precise subject revokes precisely. */
function userFirst(t: Targets, at: number, ctx: MappingContext): SignalAction[] {
  return t.users.length > 0 ? watermarks(t, at) : sessionActions(t, at, ctx);
}

function watermarks(t: Targets, at: number): SignalAction[] {
  return t.users.map((u) => ({ do: 'watermark', ...u, at }));
}

function sessionActions(t: Targets, at: number, ctx: MappingContext): SignalAction[] {
  return t.sessions.map((s) => ({ do: 'revoke-session', ...s, exp: lifetimeEnd(s.issuerId, at, ctx) }));
}

function tokenActions(t: Targets, at: number, ctx: MappingContext): SignalAction[] {
  return t.tokens.map((k) => ({ do: 'revoke-token', ...k, exp: lifetimeEnd(k.issuerId, at, ctx) }));
}

/** A token issued before `at` is dead by `at` + the issuer's longest lifetime; unknown: never forgotten. */
function lifetimeEnd(issuerId: string, at: number, ctx: MappingContext): number | undefined {
  const max = ctx.tokenIssuers.byId.get(issuerId)?.maxTokenLifetimeSeconds;
  return max === undefined ? undefined : Math.ceil(at) + max;
}

/**
 * When the event happened: CAEP's `event_timestamp`, else the SET's `iat`. A transmitter's
 * clock ahead of ours may not revoke tokens not yet issued: capped at our now plus its skew.
 */
function eventTime(set: ValidSet, nowMs: number): number {
  const ts = set.event.event_timestamp;
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0))
    throw new SetError('invalid_request', 'event_timestamp must be a number of seconds');
  const at = ts ?? set.iat;
  return Math.min(at, nowMs / 1000 + set.transmitter.clockSkewSeconds);
}

/** The tokens a subject names, among the issuers this transmitter governs. */
function targetsOf(set: ValidSet, ctx: MappingContext, options: { opaqueIs: 'user' | 'session' }): Targets {
  const t: Targets = { users: [], sessions: [], tokens: [] };
  const subject: SubjectId | undefined = set.subject;
  if (subject === undefined) return t;
  const add = (s: SimpleSubject, role: 'user' | 'session') => {
    switch (s.format) {
      case 'iss_sub':
        for (const issuerId of governedFor(s.iss, set, ctx)) t.users.push({ issuerId, sub: s.sub });
        return;
      case 'email':
        for (const issuerId of set.transmitter.governs) t.users.push({ issuerId, sub: s.email });
        return;
      case 'opaque':
        for (const issuerId of set.transmitter.governs) {
          if (role === 'session') t.sessions.push({ issuerId, sid: s.id });
          else t.users.push({ issuerId, sub: s.id });
        }
        return;
      case 'jwt_id':
        for (const issuerId of governedFor(s.iss, set, ctx)) t.tokens.push({ issuerId, jti: s.jti });
        return;
      case 'other':
        return;
    }
  };
  if (subject.format === 'complex') {
    if (subject.session !== undefined) add(subject.session, 'session');
    if (subject.user !== undefined) add(subject.user, 'user');
    // A session revocation with both members means that session, not the user's every token.
    if (options.opaqueIs === 'session' && t.sessions.length > 0) t.users.length = 0;
  } else add(subject, options.opaqueIs);
  return t;
}

/**
 * The governed issuers an `iss` names: the one whose `iss` it is (templates included), or, when
 * it is the transmitter's own issuer, every issuer the transmitter governs (the IdP speaks of
 * its users). Any other `iss` governs nothing here.
 */
function governedFor(iss: string, set: ValidSet, ctx: MappingContext): readonly string[] {
  const issuer: CompiledIssuer | undefined = ctx.tokenIssuers.issuerFor(iss);
  if (issuer !== undefined && set.transmitter.governs.includes(issuer.id)) return [issuer.id];
  return iss === set.transmitter.iss ? set.transmitter.governs : [];
}

function reasonOf(event: Readonly<Record<string, unknown>>): string {
  const admin = event.reason_admin as Record<string, unknown> | undefined;
  const text = admin?.en ?? (admin === undefined ? undefined : Object.values(admin)[0]);
  return typeof text === 'string' ? ` (${text.slice(0, 200)})` : '';
}

function requireText(event: Readonly<Record<string, unknown>>, member: string): string {
  const value = event[member];
  if (typeof value !== 'string' || value === '')
    throw new SetError('invalid_request', `the event needs ${member} (a non-empty string)`);
  return value;
}

function requireOneOf(
  event: Readonly<Record<string, unknown>>,
  member: string,
  allowed: ReadonlySet<string>,
): string {
  const value = event[member];
  if (typeof value !== 'string' || !allowed.has(value))
    throw new SetError('invalid_request', `${member} must be one of ${[...allowed].join(', ')}`);
  return value;
}
