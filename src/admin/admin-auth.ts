import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { DashboardSessions } from './dashboard-session.js';

/**
 * `Authorization: Bearer <admin.token>`, compared in constant time. Both sides are hashed
 * first so that the comparison does not leak the secret's length either. The dashboard page
 * authenticates instead with its session cookie plus CSRF header (see dashboard-session.ts).
 */
export function requireAdminToken(expected: string | undefined): onRequestHookHandler {
  const expectedDigest = expected === undefined ? undefined : digest(expected);
  const sessions = expected === undefined ? undefined : new DashboardSessions(expected);
  return (request, reply, done) => {
    if (request.headers.authorization === undefined && sessions?.authorizes(request, Date.now())) {
      done();
      return;
    }
    const header = request.headers.authorization ?? '';
    const match = /^bearer\s+(.+)$/i.exec(header.trim());
    if (expectedDigest === undefined) {
      reply.code(503).send({ error: 'admin_disabled', message: 'set admin.token to use the admin API' });
      return;
    }
    if (match === null || !timingSafeEqual(digest(match[1]!), expectedDigest)) {
      reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="provgate-admin"')
        .send({ error: 'unauthorized' });
      return;
    }
    done();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
