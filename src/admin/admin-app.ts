import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { LineageService } from '../lineage/lineage-service.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { ReloadOutcome } from '../runtime/reload-config.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import type { SignalReceiver } from '../signals/signal-receiver.js';
import type { TrustService } from '../trust/trust-service.js';
import { AdminGuard } from './admin-auth.js';
import { AdminEvents } from './admin-events.js';
import { registerHardening } from './admin-hardening.js';
import { registerBlockRoutes } from './block-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerKeyTrustRoutes } from './key-trust-routes.js';
import { registerLineageRoutes } from './lineage-routes.js';
import { registerReloadRoute } from './reload-route.js';
import { registerRevocationRoutes } from './revocation-routes.js';
import { registerSignalsRoutes } from './signals-routes.js';
import { type AdminWatch, registerWatchRoutes } from './watch-routes.js';

export interface AdminDeps {
  /** The configuration in force (and its protection rules): read at each request, as a reload replaces it. */
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
  /** The gateway's clock (token expiry, sessions, failure windows); default Date.now. */
  readonly clock?: (() => number) | undefined;
  /** POST /reload; absent when the admin app is built on its own (tests). */
  readonly reload?: ((trigger: string) => Promise<ReloadOutcome>) | undefined;
  /** Metrics, events and the dashboard; absent when the admin app is built on its own (tests). */
  readonly watch?: AdminWatch | undefined;
  /** GET /signals; absent without a `signals:` section. */
  readonly signals?: SignalReceiver | undefined;
  /** Key trust decisions (GET /keys, POST /keys/:issuer/:kid/trust|distrust). */
  readonly trust?: TrustService | undefined;
  /** GET /lineage/:issuer/:jti, and how many minted tokens a revocation took down. */
  readonly lineage?: LineageService | undefined;
}

/** The admin listener: health for balancers, and the operator API and dashboard behind the guard. */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const logger = deps.logger.child({ listener: 'admin' });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const clock = deps.clock ?? deps.watch?.clock ?? Date.now;
  const guard = new AdminGuard({
    runtime: deps.runtime,
    revocations: deps.revocations,
    clock,
    events: new AdminEvents(logger, deps.watch?.observability.events),
  });
  app.decorateRequest('adminActor', undefined);
  registerHardening(app, guard);
  registerHealthRoutes(app, deps);
  await app.register(async (scope) => registerRevocationRoutes(scope, { ...deps, guard }), {});
  await app.register(async (scope) => registerBlockRoutes(scope, { ...deps, guard }), {});
  await app.register(async (scope) => registerKeyTrustRoutes(scope, { ...deps, clock, guard }), {});
  if (deps.lineage !== undefined) {
    const lineage = deps.lineage;
    await app.register(async (scope) => registerLineageRoutes(scope, { ...deps, lineage, clock, guard }), {});
  }
  if (deps.signals !== undefined) {
    const signals = deps.signals;
    await app.register(async (scope) => registerSignalsRoutes(scope, { signals, guard }), {});
  }
  if (deps.reload !== undefined) {
    const reload = deps.reload;
    await app.register(async (scope) => registerReloadRoute(scope, { reload, guard }), {});
  }
  if (deps.watch !== undefined) {
    await registerWatchRoutes(app, {
      ...deps,
      guard,
      blocks: () => deps.runtime.current.protection?.blocks,
      watch: deps.watch,
    });
  }
  return app;
}
