import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { AuthFailure } from '../../verify/auth-failure.js';
import type { AdminGuard } from '../admin-auth.js';
import { CLEAR_SESSION_COOKIE, sessionCookie } from '../dashboard-session.js';
import { dashboardPage, loginPage, PAGE_HEADERS } from './dashboard-page.js';
import { type DashboardStateDeps, dashboardState } from './dashboard-state.js';
import { loginOptions, registerSignInRoutes } from './sign-in-routes.js';

export interface DashboardDeps extends DashboardStateDeps {
  readonly guard: AdminGuard;
}

/**
 * GET /dashboard (the page, or the sign-in choices), the sign-in routes (sign-in-routes.ts),
 * POST /dashboard/logout, and the JSON the page polls. Everything but the sign-in needs a
 * credential: the session the sign-in set (with its CSRF header), or a bearer header.
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const instance = `${hostname()}:${process.pid}`;

  app.get('/dashboard', async (request, reply) => {
    reply.headers(PAGE_HEADERS);
    const settings = deps.guard.settings();
    const sessions = settings.sessions;
    const options = loginOptions(settings);
    if (sessions === undefined) return reply.code(503).send(loginPage(options));
    const session = sessionCookie(request.headers.cookie);
    const identity = sessions.read(session, deps.clock());
    if (identity === undefined) return reply.send(loginPage(options));
    const actor = deps.guard.sessionCheck(identity);
    if (actor instanceof AuthFailure) {
      // Revoked since sign-in: the page would only poll into 401s. Say so, and start over.
      return reply
        .header('set-cookie', CLEAR_SESSION_COOKIE)
        .code(401)
        .send(loginPage({ ...options, error: `Your session ended: ${actor.reason}.` }));
    }
    return reply.send(
      dashboardPage(sessions.csrfFor(session!), instance, {
        by: actor.by,
        name: actor.name,
        role: actor.role,
      }),
    );
  });

  registerSignInRoutes(app, deps);

  app.register(async (api) => {
    api.addHook('onRequest', deps.guard.hook);
    api.post('/dashboard/logout', { config: { adminRole: 'viewer' } }, async (_request, reply) =>
      reply.header('set-cookie', CLEAR_SESSION_COOKIE).send({ ok: true }),
    );
    api.get<{ Querystring: { after?: string } }>('/dashboard/api/state', async (request) => {
      const after = Number(request.query.after ?? 0);
      return dashboardState(deps, Number.isSafeInteger(after) && after >= 0 ? after : 0);
    });
  });
}
