import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { ResponseHeaders } from '../verify/auth-failure.js';
import type { CredentialScheme } from '../verify/extract-bearer.js';
import { challengeOf, REASON_CODES, REASONS, type Reason } from '../verify/reasons.js';

/**
 * The client's view of a refusal, apart from any server: status, headers (WWW-Authenticate per
 * RFC 6750, Retry-After, whatever the refusing step added) and a small JSON body. A Fastify reply
 * (sendRefusal) or a raw socket (writeRawRefusal) writes it; nothing else writes a refusal.
 */
export interface Refusal {
  readonly status: number;
  readonly headers: ResponseHeaders;
  /** `{"error":"<OAuth error>","reason":"<reason>"}`. */
  readonly body: string;
}

const REALM = 'provgate';

/**
 * What the challenge depends on besides the reason: the scheme the request's credentials used
 * (undefined when none came) and the route, for the schemes it takes and its DPoP `algs`.
 */
export interface ChallengeContext {
  readonly scheme: CredentialScheme | undefined;
  readonly route: Pick<CompiledRoute, 'senderConstraint' | 'dpopAlgs'> | undefined;
}

/**
 * The wire form of `reason`; `extra` headers come first, as the refusing step gave them. The
 * WWW-Authenticate challenge is the one the reason table names (challengeOf), for `context`.
 */
export function refusalOf(
  reason: Reason,
  retryAfterSeconds?: number,
  extra?: ResponseHeaders,
  context?: ChallengeContext,
): Refusal {
  const plain = context === undefined || isPlainContext(reason, context);
  if (retryAfterSeconds === undefined && extra === undefined) {
    if (plain) return PLAIN.get(reason) ?? build(reason);
    return contextual(reason, context!);
  }
  return build(reason, retryAfterSeconds, extra, plain ? undefined : context);
}

/** Whether the challenge for `context` is the Bearer-only one every plain refusal has. */
function isPlainContext(reason: Reason, context: ChallengeContext): boolean {
  if (context.scheme === 'dpop') return false;
  const kind = challengeOf(reason);
  if (kind === 'dpop' || kind === 'route' || kind === 'both') return false;
  const constraint = context.route?.senderConstraint;
  return constraint === undefined || constraint === 'none' || constraint === 'mtls';
}

// Refusals with a DPoP challenge depend on the route's algs: built once per reason, scheme and
// route setting, not once per refused request. Bounded: what varies comes from the configuration.
const CONTEXTUAL_ENTRIES = 4096;
const contextualCache = new Map<string, Refusal>();

function contextual(reason: Reason, context: ChallengeContext): Refusal {
  const key = `${reason}\0${context.scheme ?? ''}\0${context.route?.senderConstraint ?? ''}\0${context.route?.dpopAlgs ?? ''}`;
  let refusal = contextualCache.get(key);
  if (refusal === undefined) {
    refusal = build(reason, undefined, undefined, context);
    if (contextualCache.size >= CONTEXTUAL_ENTRIES) contextualCache.clear();
    contextualCache.set(key, refusal);
  }
  return refusal;
}

/** The schemes a route takes: Bearer (with or without a certificate), DPoP, or both. */
type Schemes = 'bearer' | 'dpop' | 'both';

function offeredSchemes(constraint: CompiledRoute['senderConstraint'] | undefined): Schemes {
  if (constraint === 'dpop') return 'dpop';
  return constraint === 'any' ? 'both' : 'bearer';
}

/** For token_not_bound: a binding of the kind the route asks for, any kind when it asks for none. */
function bindingSchemes(constraint: CompiledRoute['senderConstraint'] | undefined): Schemes {
  if (constraint === 'dpop') return 'dpop';
  return constraint === 'mtls' ? 'bearer' : 'both';
}

/** RFC 6750 §3 and RFC 9449 §7.1: one challenge per scheme, the error on the ones it concerns. */
function challenge(reason: Reason, context: ChallengeContext | undefined): string | undefined {
  const spec = REASONS[reason];
  const algs = context?.route?.dpopAlgs;
  const withError = `error="${spec.error}", error_description="${reason}"`;
  const bearer = (params: string) => `Bearer ${params}`;
  const dpop = (params: string | undefined) => {
    const a = algs === undefined ? '' : `algs="${algs}"`;
    if (params === undefined) return `DPoP ${a}`.trimEnd();
    return a === '' ? `DPoP ${params}` : `DPoP ${params}, ${a}`;
  };
  const on = (schemes: Schemes, params: string | undefined): string => {
    // RFC 6750 3.1: a request without credentials gets no error attribute.
    const b = bearer(params ?? `realm="${REALM}"`);
    if (schemes === 'bearer') return b;
    if (schemes === 'dpop') return dpop(params);
    return `${b}, ${dpop(params)}`;
  };
  switch (challengeOf(reason)) {
    case 'none':
      return undefined;
    case 'offer':
      return on(offeredSchemes(context?.route?.senderConstraint), undefined);
    case 'token':
      return on(context?.scheme === 'dpop' ? 'dpop' : 'bearer', withError);
    case 'dpop':
      return on('dpop', withError);
    case 'bearer':
      return on('bearer', withError);
    case 'route':
      return on(bindingSchemes(context?.route?.senderConstraint), withError);
    case 'both':
      return on('both', withError);
  }
}

function build(
  reason: Reason,
  retryAfterSeconds?: number,
  extra?: ResponseHeaders,
  context?: ChallengeContext,
): Refusal {
  const spec = REASONS[reason];
  const headers: Record<string, string> = { ...extra };
  const header = challenge(reason, context);
  if (header !== undefined) headers['www-authenticate'] = header;
  if (retryAfterSeconds !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  headers['cache-control'] = 'no-store';
  headers['content-type'] = 'application/json; charset=utf-8';
  return { status: spec.status, headers, body: JSON.stringify({ error: spec.error, reason }) };
}

// Most refusals carry nothing of their own: theirs is built once, not once per refused request.
const PLAIN: ReadonlyMap<Reason, Refusal> = new Map(REASON_CODES.map((reason) => [reason, build(reason)]));

/** Writes a refusal on a Fastify reply: a reason as it is, or a Refusal built by refusalOf. */
export function sendRefusal(
  reply: FastifyReply,
  refusal: Reason | Refusal,
  retryAfterSeconds?: number,
): FastifyReply {
  const { status, headers, body } =
    typeof refusal === 'string' ? refusalOf(refusal, retryAfterSeconds) : refusal;
  reply.code(status);
  reply.headers(headers);
  return reply.send(body);
}

/**
 * Writes a refusal on a socket that no HTTP response object serves (an `upgrade` request): the
 * whole response, then the end of the connection, since the client may already be sending
 * frames of the protocol it asked for.
 */
export function writeRawRefusal(socket: Duplex, refusal: Refusal): void {
  let head = `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n`;
  for (const name in refusal.headers) head += `${name}: ${refusal.headers[name]}\r\n`;
  head += `content-length: ${Buffer.byteLength(refusal.body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + refusal.body);
}
