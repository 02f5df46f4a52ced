import type { FastifyInstance } from 'fastify';
import type { ReloadOutcome } from '../runtime/reload-config.js';
import { type AdminTokenSource, requireAdminToken } from './admin-auth.js';

interface Deps {
  readonly reload: (trigger: string) => Promise<ReloadOutcome>;
  readonly adminToken: AdminTokenSource;
}

/**
 * POST /reload: what SIGHUP does, with the verdict in the answer: 200 `{applied: true,
 * generation, warnings}`, or 422 with every problem of the file (the old configuration stays).
 */
export function registerReloadRoute(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', requireAdminToken(deps.adminToken));
  app.post('/reload', async (_request, reply) => {
    const outcome = await deps.reload('admin-api');
    if (outcome.applied) return outcome;
    return reply.code(422).send({ error: 'invalid_configuration', ...outcome });
  });
}
