import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestHookHandler } from 'fastify';
import { DashboardSessions } from './dashboard-session.js';

/** admin.token as configured now: a reload may set, change or remove it. */
export type AdminTokenSource = () => string | undefined;

interface AdminCredentials {
  readonly digest: Buffer | undefined;
  readonly sessions: DashboardSessions | undefined;
}

/** What admin.token derives, derived again only when the token changes (a reload). */
export function adminCredentials(source: AdminTokenSource): () => AdminCredentials {
  let token = source();
  let credentials = derive(token);
  return () => {
    const now = source();
    if (now !== token) {
      token = now;
      credentials = derive(now);
    }
    return credentials;
  };
}

function derive(token: string | undefined): AdminCredentials {
  return token === undefined
    ? { digest: undefined, sessions: undefined }
    : { digest: digest(token), sessions: new DashboardSessions(token) };
}

/**
 * `Authorization: Bearer <admin.token>`, compared in constant time. Both sides are hashed
 * first so that the comparison does not leak the secret's length either. The dashboard page
 * authenticates instead with its session cookie plus CSRF header (see dashboard-session.ts).
 */
export function requireAdminToken(source: AdminTokenSource): onRequestHookHandler {
  const credentials = adminCredentials(source);
  return (request, reply, done) => {
    const { digest: expectedDigest, sessions } = credentials();
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
