import type { FastifyReply, FastifyRequest } from 'fastify';
import { redactUrl } from '../observability/logger.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { socketAddress } from '../protection/client-address.js';
import { sendRefusal } from '../proxy/refusal-reply.js';
import { REASONS } from '../verify/reasons.js';

/**
 * Refuses a request with more than `maxHeaders` headers (431 too_many_headers), before any token
 * work. Servers keep only their first so many headers and drop the rest silently (Node about
 * 1,000, and Node itself truncates what reaches this hook at about that count, which is why the
 * setting stays below it): a client could otherwise crowd the identity headers out of what the
 * upstream reads. Counted in rawHeaders, which holds every header line the client sent.
 * Returns the check, which refuses the request and returns true when there are too many; it runs
 * in the listener's one onRequest hook, before the pipeline (request-hook.ts).
 */
export function createHeaderLimit(
  maxHeaders: number,
  events: SecurityEvents,
): (request: FastifyRequest, reply: FastifyReply) => boolean {
  const maxRawEntries = maxHeaders * 2;
  return (request, reply) => {
    const count = request.raw.rawHeaders.length;
    if (count <= maxRawEntries) return false;
    const reason = 'too_many_headers';
    const q = request.url.indexOf('?');
    events.refused({
      event: 'auth.refused',
      reason,
      severity: REASONS[reason].severity,
      status: REASONS[reason].status,
      route: undefined,
      method: request.method,
      path: redactUrl(q === -1 ? request.url : request.url.slice(0, q)),
      // The socket peer: the protection rules' view of the client (trusted proxies) comes later.
      ip: socketAddress(request.raw),
      claimedIssuer: undefined,
      issuerId: undefined,
      keyIssuer: undefined,
      kid: undefined,
      alg: undefined,
      sub: undefined,
      jti: undefined,
      tokenFingerprint: undefined,
      signatureValid: undefined,
      binding: undefined,
      presented: undefined,
      htu: undefined,
      note: `${count / 2} headers, at most ${maxHeaders}`,
    });
    sendRefusal(reply, reason);
    return true;
  };
}
