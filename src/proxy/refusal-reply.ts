import type { FastifyReply } from 'fastify';
import { REASONS, type Reason } from '../verify/reasons.js';

const REALM = 'provgate';

/** The client's view of a refusal: status, WWW-Authenticate (RFC 6750) and a small JSON body. */
export function sendRefusal(reply: FastifyReply, reason: Reason, retryAfterSeconds?: number): FastifyReply {
  const spec = REASONS[reason];
  reply.code(spec.status);
  if (reason === 'missing_token') {
    // RFC 6750 3.1: a request without credentials gets no error attribute.
    reply.header('www-authenticate', `Bearer realm="${REALM}"`);
  } else if (spec.error === 'invalid_token' || spec.error === 'insufficient_scope') {
    reply.header('www-authenticate', `Bearer error="${spec.error}", error_description="${reason}"`);
  }
  if (retryAfterSeconds !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  reply.header('cache-control', 'no-store');
  return reply.send({ error: spec.error, reason });
}
