import { createHash, timingSafeEqual } from 'node:crypto';
import type { IssuerRegistry } from '../keys/issuer-registry.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { checkForbiddenHeader } from '../verify/check-header.js';
import { tokenFingerprint } from '../verify/fingerprint.js';
import { type ParsedToken, parseToken } from '../verify/parse-token.js';
import type { CompiledSignals, CompiledTransmitter } from './compile-signals.js';
import { type EventName, eventNameOf } from './event-types.js';
import { selectSetKey } from './select-set-key.js';
import { SetError } from './set-error.js';
import { parseSubjectId, type SubjectId } from './subject-id.js';

/** A SET whose signature, issuer, audience, timing and shape hold; not yet applied. */
export interface ValidSet {
  readonly transmitter: CompiledTransmitter;
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly eventUri: string;
  /** Undefined for an event type this receiver does not know. */
  readonly eventName: EventName | undefined;
  readonly event: Readonly<Record<string, unknown>>;
  /** Undefined only for SSF stream events that name no subject. */
  readonly subject: SubjectId | undefined;
  readonly txn: string | undefined;
  readonly kid: string;
  /** First 16 hex of the SET's SHA-256: how logs name it (a SET itself is never logged). */
  readonly fingerprint: string;
}

/** How a SET arrived: a push carries the transmitter's Authorization header; a poll is ours. */
export type Arrival =
  | { readonly via: 'push'; readonly authorization: string | undefined }
  /** `jti`: the key the poll response gave the SET under (RFC 8936 section 2.2). */
  | { readonly via: 'poll'; readonly transmitter: CompiledTransmitter; readonly jti: string };

export interface SetContext {
  readonly signals: CompiledSignals;
  readonly tokenIssuers: IssuerRegistry;
  readonly nowMs: number;
  readonly arrival: Arrival;
}

/** What a refusal's log line can say about a SET that did not validate. */
export interface SetFacts {
  transmitter?: string | undefined;
  iss?: string | undefined;
  jti?: string | undefined;
  eventUri?: string | undefined;
  fingerprint: string;
}

/**
 * RFC 8417 and the SSF 1.0 SET profile (section 4), in the order that keeps a forged SET from
 * learning anything: shape, transmitter by `iss`, its Authorization, its key and signature, and
 * only then the claims. Fills `facts` as it learns them, for the caller's log line.
 */
export async function validateSet(raw: string, ctx: SetContext, facts: SetFacts): Promise<ValidSet> {
  const set = parse(raw);
  const claims = set.claims;
  // Unverified until the signature is: bounded, so that junk cannot fill the log.
  facts.iss = claims.iss?.slice(0, 200);
  facts.jti = claims.jti?.slice(0, 200);
  // For the refusal's log line and counter only (the counter's label is bounded).
  const claimedEvents = claims.events;
  if (claimedEvents !== null && typeof claimedEvents === 'object' && !Array.isArray(claimedEvents)) {
    const claimed = Object.keys(claimedEvents);
    if (claimed.length === 1) facts.eventUri = claimed[0]!.slice(0, 200);
  }
  if (!isSecEventType(set.header.typ))
    throw new SetError('invalid_request', 'typ must be secevent+jwt (RFC 8417 section 2.3)');
  if (claims.iss === undefined) throw new SetError('invalid_issuer', 'no iss');
  const transmitter = ctx.signals.byIss.get(claims.iss);
  if (transmitter === undefined) throw new SetError('invalid_issuer', 'iss is no configured transmitter');
  facts.transmitter = transmitter.name;
  checkArrival(transmitter, ctx.arrival);
  try {
    checkForbiddenHeader(set.header);
  } catch (err) {
    if (err instanceof AuthFailure)
      throw new SetError('invalid_key', `${err.detail.note}: keys never come from the SET`);
    throw err;
  }
  const key = await selectSetKey(set, transmitter, ctx.signals, ctx.tokenIssuers, ctx.nowMs);

  if (!audienceMatches(claims.aud, transmitter.audiences))
    throw new SetError('invalid_audience', "aud names none of this receiver's audiences");
  if (claims.jti === undefined || claims.jti === '') throw new SetError('invalid_request', 'no jti');
  if (ctx.arrival.via === 'poll' && ctx.arrival.jti !== claims.jti)
    throw new SetError('invalid_request', `served under jti ${ctx.arrival.jti}, but its jti differs`);
  if (claims.iat === undefined) throw new SetError('invalid_request', 'no iat');
  const nowSeconds = ctx.nowMs / 1000;
  if (claims.iat > nowSeconds + transmitter.clockSkewSeconds)
    throw new SetError('invalid_request', 'iat is in the future');
  if (claims.iat < nowSeconds - transmitter.maxAgeSeconds)
    throw new SetError('invalid_request', `iat is older than ${transmitter.maxAgeSeconds} s`);
  // SSF 1.0 4.1.2 and 4.1.7: what keeps a SET from being taken for an ID or access token.
  if (claims.sub !== undefined)
    throw new SetError('invalid_request', 'a SET carries no sub claim (SSF 1.0 section 4.1.2)');
  if (claims.exp !== undefined)
    throw new SetError('invalid_request', 'a SET carries no exp claim (SSF 1.0 section 4.1.7)');
  if (claims.txn !== undefined && typeof claims.txn !== 'string')
    throw new SetError('invalid_request', 'txn is not a string');

  const events = claims.events;
  if (events === null || typeof events !== 'object' || Array.isArray(events))
    throw new SetError('invalid_request', 'no events object');
  const types = Object.keys(events);
  if (types.length !== 1)
    throw new SetError('invalid_request', `events holds ${types.length} members; one per SET`);
  const eventUri = types[0]!;
  const event = (events as Record<string, unknown>)[eventUri];
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    throw new SetError('invalid_request', 'the event payload is not an object');
  const eventName = eventNameOf(eventUri);
  const subject = subjectOf(claims.sub_id, event as Record<string, unknown>, transmitter, eventName);
  return {
    transmitter,
    jti: claims.jti,
    iat: claims.iat,
    eventUri,
    eventName,
    event: event as Record<string, unknown>,
    subject,
    txn: claims.txn as string | undefined,
    kid: key.kid,
    fingerprint: facts.fingerprint,
  };
}

/** The fingerprint a SET's log lines carry. */
export function setFingerprint(raw: string): string {
  return tokenFingerprint(raw);
}

function parse(raw: string): ParsedToken {
  try {
    return parseToken(raw.trim());
  } catch (err) {
    if (err instanceof AuthFailure)
      throw new SetError('invalid_request', `not a compact JWS: ${err.detail.note}`);
    throw err;
  }
}

function checkArrival(transmitter: CompiledTransmitter, arrival: Arrival): void {
  if (arrival.via === 'poll') {
    if (arrival.transmitter !== transmitter)
      throw new SetError(
        'invalid_issuer',
        `a SET of ${transmitter.name} served by the poll endpoint of ${arrival.transmitter.name}`,
      );
    return;
  }
  if (transmitter.delivery !== 'push')
    throw new SetError('access_denied', `transmitter ${transmitter.name} is configured for poll delivery`);
  const expected = transmitter.authorization;
  if (expected === undefined) return;
  // Digests of equal length, compared in constant time: neither the secret nor its length shows.
  const given = createHash('sha256')
    .update(arrival.authorization ?? '', 'utf8')
    .digest();
  if (!timingSafeEqual(given, expected))
    throw new SetError('authentication_failed', 'Authorization header missing or wrong');
}

function subjectOf(
  subId: unknown,
  event: Record<string, unknown>,
  transmitter: CompiledTransmitter,
  eventName: EventName | undefined,
): SubjectId | undefined {
  const options = { legacySubjectType: transmitter.legacySubjectType };
  if (subId !== undefined) return parseSubjectId(subId, options);
  // Google's RISC and pre-1.0 CAEP put the subject inside the event (SSF 1.0 section 3.1 still
  // allows it for existing events); only by setting.
  if (transmitter.legacySubjectType && event.subject !== undefined)
    return parseSubjectId(event.subject, options, 'subject');
  if (eventName === 'verification' || eventName === 'stream-updated') return undefined;
  throw new SetError('invalid_request', 'no sub_id claim (SSF 1.0 section 3.1)');
}

function isSecEventType(typ: string | undefined): boolean {
  return typ !== undefined && typ.toLowerCase().replace(/^application\//, '') === 'secevent+jwt';
}

function audienceMatches(
  aud: string | readonly string[] | undefined,
  accepted: ReadonlySet<string>,
): boolean {
  if (aud === undefined) return false;
  if (typeof aud === 'string') return accepted.has(aud);
  return aud.some((a) => accepted.has(a));
}
