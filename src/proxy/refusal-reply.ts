import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ResponseHeaders } from '../verify/auth-failure.js';
import { REASON_CODES, REASONS, type Reason } from '../verify/reasons.js';

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

/** The wire form of `reason`; `extra` headers come first, as the refusing step gave them. */
export function refusalOf(reason: Reason, retryAfterSeconds?: number, extra?: ResponseHeaders): Refusal {
  if (retryAfterSeconds === undefined && extra === undefined) return PLAIN.get(reason) ?? build(reason);
  return build(reason, retryAfterSeconds, extra);
}

function build(reason: Reason, retryAfterSeconds?: number, extra?: ResponseHeaders): Refusal {
  const spec = REASONS[reason];
  const headers: Record<string, string> = { ...extra };
  if (reason === 'missing_token') {
    // RFC 6750 3.1: a request without credentials gets no error attribute.
    headers['www-authenticate'] = `Bearer realm="${REALM}"`;
  } else if (spec.error === 'invalid_token' || spec.error === 'insufficient_scope') {
    headers['www-authenticate'] = `Bearer error="${spec.error}", error_description="${reason}"`;
  }
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
