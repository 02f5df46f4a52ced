import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { type AdminTokenSource, adminCredentials, requireAdminToken } from '../admin-auth.js';
import { SESSION_COOKIE, sessionCookie, sessionCookieHeader } from '../dashboard-session.js';
import { dashboardPage, loginPage, PAGE_HEADERS } from './dashboard-page.js';
import { type DashboardStateDeps, dashboardState } from './dashboard-state.js';

export interface DashboardDeps extends DashboardStateDeps {
  readonly adminToken: AdminTokenSource;
}

// A wrong token costs the guesser this long; with a token of 16+ characters that is plenty.
const FAILED_LOGIN_DELAY_MS = 300;

/**
 * GET /dashboard (the page, or the login form), POST /dashboard/login and /logout, and the
 * JSON the page polls. Everything but the login form needs admin.token, as a bearer header or
 * as the session the login form set.
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  // Sessions are keyed by admin.token: a reload that changes it ends every session.
  const credentials = adminCredentials(deps.adminToken);
  const instance = `${hostname()}:${process.pid}`;
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.get('/dashboard', async (request, reply) => {
    reply.headers(PAGE_HEADERS);
    const { sessions } = credentials();
    if (sessions === undefined)
      return reply.code(503).send(loginPage('The admin API is off: set admin.token.'));
    const session = sessionCookie(request.headers.cookie);
    if (session === undefined || !sessions.valid(session, Date.now())) return reply.send(loginPage());
    return reply.send(dashboardPage(sessions.csrfFor(session), instance));
  });

  app.post<{ Body: Record<string, string> | undefined }>('/dashboard/login', async (request, reply) => {
    reply.headers(PAGE_HEADERS);
    const { sessions } = credentials();
    if (sessions === undefined)
      return reply.code(503).send(loginPage('The admin API is off: set admin.token.'));
    const candidate = typeof request.body?.token === 'string' ? request.body.token : '';
    if (!sessions.tokenMatches(candidate)) {
      request.log.warn({ event: 'dashboard.login_failed', ip: request.ip }, 'dashboard sign-in refused');
      await sleep(FAILED_LOGIN_DELAY_MS);
      return reply.code(401).send(loginPage('That is not the admin token.'));
    }
    const { value, maxAgeSeconds } = sessions.issue(Date.now());
    request.log.info({ event: 'dashboard.login', ip: request.ip }, 'dashboard sign-in');
    return reply
      .code(303)
      .header('set-cookie', sessionCookieHeader(value, maxAgeSeconds, request.protocol === 'https'))
      .header('location', '/dashboard')
      .send();
  });

  app.register(async (api) => {
    api.addHook('onRequest', requireAdminToken(deps.adminToken));
    api.post('/dashboard/logout', async (_request, reply) =>
      reply
        .header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
        .send({ ok: true }),
    );
    api.get<{ Querystring: { after?: string } }>('/dashboard/api/state', async (request, reply) => {
      const after = Number(request.query.after ?? 0);
      reply.header('cache-control', 'no-store');
      return dashboardState(deps, Number.isSafeInteger(after) && after >= 0 ? after : 0);
    });
  });
}
