import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly metrics: Registry;
  readonly guard: AdminGuard;
  /** admin.metricsRequireToken: Prometheus usually scrapes an internal port without credentials. */
  readonly requireToken: () => boolean;
}

/** GET /metrics in the Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, deps: Deps): void {
  // Asked at each scrape: a reload may turn the setting on or off. A viewer may read it.
  app.addHook('onRequest', async (request, reply) => {
    if (deps.requireToken()) await deps.guard.hook(request, reply);
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(body);
  });
}
