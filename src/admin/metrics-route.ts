import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { requireAdminToken } from './admin-auth.js';

interface Deps {
  readonly metrics: Registry;
  readonly adminToken: string | undefined;
  /** admin.metricsRequireToken: Prometheus usually scrapes an internal port without credentials. */
  readonly requireToken: boolean;
}

/** GET /metrics in the Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, deps: Deps): void {
  if (deps.requireToken) app.addHook('onRequest', requireAdminToken(deps.adminToken));
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(body);
  });
}
