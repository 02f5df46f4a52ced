import type { FastifyError, FastifyInstance } from 'fastify';
import { VerificationRequestError } from '../signals/request-verification.js';
import type { SignalReceiver } from '../signals/signal-receiver.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly signals: SignalReceiver;
  readonly guard: AdminGuard;
}

/**
 * GET /signals: every transmitter (stream state, last event, last error, key set, this instance's
 * poller) and the blocks signals hold; what `provgate signals status` prints. DELETE
 * /signals/blocks/:id lifts a signal's block on every instance (operator role). POST
 * /signals/:transmitter/verify asks the transmitter for a verification event (operator role).
 */
export function registerSignalsRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  // As for revocations and blocks: only an unavailable store is a 503; anything else a plain 500.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof StoreUnavailableError)
      return reply.code(503).send({
        error: 'store_unavailable',
        message: `${request.method === 'DELETE' ? 'block not lifted' : 'verification not asked for'}: ${error.message}`,
      });
    if (error instanceof VerificationRequestError)
      return reply.code(error.status).send({ error: error.code, message: error.message });
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error }, 'admin API error');
    return reply.code(500).send({ error: 'server_error' });
  });
  app.get('/signals', async () => ({
    transmitters: await deps.signals.status(),
    blocks: deps.signals.blocks(),
  }));

  app.delete<{ Params: { id: string } }>('/signals/blocks/:id', async (request, reply) => {
    const lifted = await deps.signals.unblock(request.params.id, request.adminActor?.by ?? 'unknown');
    if (!lifted)
      return reply.code(404).send({ error: 'not_found', message: `no signal block ${request.params.id}` });
    return { lifted: request.params.id };
  });

  app.post<{ Params: { transmitter: string } }>('/signals/:transmitter/verify', async (request, reply) => {
    const requested = await deps.signals.verify(
      request.params.transmitter,
      request.adminActor?.by ?? 'unknown',
    );
    // Accepted: the verification SET arrives later; GET /signals shows lastVerifiedAt then.
    return reply.code(202).send(requested);
  });
}
