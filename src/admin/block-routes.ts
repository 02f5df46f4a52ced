import type { FastifyError, FastifyInstance } from 'fastify';
import { BlockNotFoundError } from '../protection/block-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  /** Its protection rules are the ones in force (a reload may add, replace or remove them). */
  readonly runtime: RuntimeHolder;
  readonly guard: AdminGuard;
}

/** GET /blocks lists the active blocks; DELETE /blocks/:id lifts one on every instance. */
export function registerBlockRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  // One error policy, as for revocations: only an unavailable store is a 503; a bad request is
  // a 4xx; anything else is a bug, logged, and a plain 500 that leaks nothing.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof BlockNotFoundError)
      return reply.code(404).send({ error: 'not_found', message: error.message });
    if (error instanceof StoreUnavailableError) {
      // A Redis store that is away cannot lift a block for the other instances: say so, do not pretend.
      return reply
        .code(503)
        .send({ error: 'store_unavailable', message: `block not lifted: ${error.message}` });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error }, 'admin API error');
    return reply.code(500).send({ error: 'server_error' });
  });

  app.get('/blocks', async () => ({ blocks: deps.runtime.current.protection?.blocks.list() ?? [] }));

  app.delete<{ Params: { id: string } }>('/blocks/:id', async (request, reply) => {
    const protection = deps.runtime.current.protection;
    if (protection === undefined) {
      return reply.code(404).send({ error: 'not_found', message: 'protection is not configured' });
    }
    const removed = await protection.blocks.unblock(request.params.id);
    const actor = request.adminActor;
    request.log.warn(
      { event: 'admin.block_lifted', id: request.params.id, by: actor?.by, issuer: actor?.issuer },
      `block ${request.params.id} lifted by ${actor?.by}`,
    );
    return { removed };
  });
}
