import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { CompiledConfig } from '../config/compile-config.js';
import type { Protection } from '../protection/protection.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import { registerBlockRoutes } from './block-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerRevocationRoutes } from './revocation-routes.js';
import { type AdminWatch, registerWatchRoutes } from './watch-routes.js';

export interface AdminDeps {
  readonly compiled: CompiledConfig;
  readonly revocations: RevocationService;
  readonly protection?: Protection | undefined;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
  /** Metrics, events and the dashboard; absent when the admin app is built on its own (tests). */
  readonly watch?: AdminWatch | undefined;
}

/** The admin listener: health for balancers, and the token-guarded operator API. */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerHealthRoutes(app, deps);
  await app.register(async (scope) => registerRevocationRoutes(scope, deps), {});
  await app.register(
    async (scope) => registerBlockRoutes(scope, { ...deps, protection: deps.protection }),
    {},
  );
  if (deps.watch !== undefined) {
    await registerWatchRoutes(app, { ...deps, blocks: deps.protection?.blocks, watch: deps.watch });
  }
  return app;
}
