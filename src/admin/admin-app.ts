import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { CompiledConfig } from '../config/compile-config.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerRevocationRoutes } from './revocation-routes.js';

export interface AdminDeps {
  readonly compiled: CompiledConfig;
  readonly revocations: RevocationService;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
}

/** The admin listener: health for balancers, and the token-guarded operator API. */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerHealthRoutes(app, deps);
  await app.register(async (scope) => registerRevocationRoutes(scope, deps), {});
  return app;
}
