import type { FastifyInstance } from 'fastify';
import { AuthFailure } from '../verify/auth-failure.js';
import type { AdminGuard } from './admin-auth.js';
import { bounded } from './admin-events.js';
import { sendAdminRefusal } from './admin-refusal.js';

/**
 * What every answer of the admin listener shares, health checks included: only the listener's
 * own names in `Host` (allowed-hosts.ts: a DNS-rebinding page is refused before any route runs),
 * `Cache-Control: no-store` (nothing an operator saw stays in a cache) and no CORS headers at all,
 * so no other origin's script may read an answer.
 */
export function registerHardening(app: FastifyInstance, guard: AdminGuard): void {
  app.addHook('onRequest', (request, reply, done) => {
    const host = request.headers.host;
    if (guard.settings().hosts.allows(host)) {
      done();
      return;
    }
    guard.refusedEvent(
      request,
      new AuthFailure('host_not_allowed', { note: `Host: ${bounded(host)}` }),
      undefined,
    );
    void sendAdminRefusal(reply, 'host_not_allowed');
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    for (const name of Object.keys(reply.getHeaders())) {
      if (name.startsWith('access-control-')) reply.removeHeader(name);
    }
    done(null, payload);
  });
}
