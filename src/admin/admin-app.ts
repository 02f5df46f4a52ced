import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { ReloadOutcome } from '../runtime/reload-config.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { registerBlockRoutes } from './block-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerReloadRoute } from './reload-route.js';
import { registerRevocationRoutes } from './revocation-routes.js';
import { type AdminWatch, registerWatchRoutes } from './watch-routes.js';

export interface AdminDeps {
  /** The configuration in force (and its protection rules): read at each request, as a reload replaces it. */
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
  /** POST /reload; absent when the admin app is built on its own (tests). */
  readonly reload?: ((trigger: string) => Promise<ReloadOutcome>) | undefined;
  /** Metrics, events and the dashboard; absent when the admin app is built on its own (tests). */
  readonly watch?: AdminWatch | undefined;
}

/** The admin listener: health for balancers, and the token-guarded operator API. */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const adminToken = () => deps.runtime.current.compiled.config.admin.token;
  registerHealthRoutes(app, deps);
  await app.register(async (scope) => registerRevocationRoutes(scope, { ...deps, adminToken }), {});
  await app.register(async (scope) => registerBlockRoutes(scope, { ...deps, adminToken }), {});
  if (deps.reload !== undefined) {
    const reload = deps.reload;
    await app.register(async (scope) => registerReloadRoute(scope, { reload, adminToken }), {});
  }
  if (deps.watch !== undefined) {
    await registerWatchRoutes(app, {
      ...deps,
      adminToken,
      blocks: () => deps.runtime.current.protection?.blocks,
      watch: deps.watch,
    });
  }
  return app;
}
