import type { FastifyReply } from 'fastify';
import { REASONS, type Reason } from '../verify/reasons.js';

const REALM = 'provgate-admin';

/**
 * A refusal on the admin listener: the reason's status, `{"error", "reason"}` and, for a bearer
 * caller, the RFC 6750 challenge of the admin realm. The admin API's own reasons (insufficient_role,
 * host_not_allowed) are rows of the one reason table like the proxy's.
 */
export function sendAdminRefusal(
  reply: FastifyReply,
  reason: Reason,
  options: { retryAfterSeconds?: number | undefined; extra?: Record<string, unknown> } = {},
): FastifyReply {
  const spec = REASONS[reason];
  if (reason === 'missing_token') reply.header('www-authenticate', `Bearer realm="${REALM}"`);
  else if (spec.error === 'invalid_token' || spec.error === 'insufficient_scope') {
    reply.header(
      'www-authenticate',
      `Bearer realm="${REALM}", error="${spec.error}", error_description="${reason}"`,
    );
  }
  if (options.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(options.retryAfterSeconds))));
  return reply.code(spec.status).send({ error: spec.error, reason, ...options.extra });
}
