import type { FastifyInstance } from 'fastify';
import type { ReloadOutcome } from '../runtime/reload-config.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly reload: (trigger: string) => Promise<ReloadOutcome>;
  readonly guard: AdminGuard;
}

/**
 * POST /reload: what SIGHUP does, with the verdict in the answer: 200 `{applied: true,
 * generation, warnings}`, or 422 with every problem of the file (the old configuration stays).
 */
export function registerReloadRoute(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.post('/reload', async (request, reply) => {
    request.log.info(
      { event: 'admin.reload', by: request.adminActor?.by, issuer: request.adminActor?.issuer },
      'reload asked through the admin API',
    );
    const outcome = await deps.reload('admin-api');
    if (outcome.applied) return outcome;
    return reply.code(422).send({ error: 'invalid_configuration', ...outcome });
  });
}
