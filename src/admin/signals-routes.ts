import type { FastifyInstance } from 'fastify';
import type { SignalReceiver } from '../signals/signal-receiver.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly signals: SignalReceiver;
  readonly guard: AdminGuard;
}

/**
 * GET /signals: every transmitter (stream state, last event, last error, key set, this instance's
 * poller) and the blocks signals hold; what `provgate signals status` prints.
 */
export function registerSignalsRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.get('/signals', async () => ({
    transmitters: await deps.signals.status(),
    blocks: deps.signals.blocks(),
  }));
}
