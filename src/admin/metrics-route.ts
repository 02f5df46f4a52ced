import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { type AdminTokenSource, requireAdminToken } from './admin-auth.js';

interface Deps {
  readonly metrics: Registry;
  readonly adminToken: AdminTokenSource;
  /** admin.metricsRequireToken: Prometheus usually scrapes an internal port without credentials. */
  readonly requireToken: () => boolean;
}

/** GET /metrics in the Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, deps: Deps): void {
  const guard = requireAdminToken(deps.adminToken);
  // Asked at each scrape: a reload may turn the setting on or off.
  app.addHook('onRequest', function metricsGuard(request, reply, done) {
    if (deps.requireToken()) guard.call(this, request, reply, done);
    else done();
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(body);
  });
}
