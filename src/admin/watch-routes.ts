import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { LineageService } from '../lineage/lineage-service.js';
import type { BlockView } from '../observability/block-view.js';
import type { Observability } from '../observability/observability.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import type { SignalReceiver } from '../signals/signal-receiver.js';
import type { AdminGuard } from './admin-auth.js';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.js';
import { registerEventsRoutes } from './events-routes.js';
import { registerMetricsRoute } from './metrics-route.js';

/** What the operator-facing views read: built by server.ts once the gateway exists. */
export interface AdminWatch {
  readonly observability: Observability;
  readonly metrics: Registry;
  readonly clock: () => number;
}

interface Deps {
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  readonly isDraining: () => boolean;
  readonly guard: AdminGuard;
  /** The blocks of the protection rules in force; undefined without a `protection:` section. */
  readonly blocks: () => BlockView | undefined;
  readonly watch: AdminWatch;
  /** The Shared Signals receiver, for the dashboard; undefined without a `signals:` section. */
  readonly signals?: SignalReceiver | undefined;
  /** Lineage records, for the minted tokens each revocation took down; undefined without them. */
  readonly lineage?: LineageService | undefined;
}

/** /metrics, /events and /dashboard, each in its own scope with its own guard. */
export async function registerWatchRoutes(app: FastifyInstance, deps: Deps): Promise<void> {
  await app.register(async (scope) =>
    registerMetricsRoute(scope, {
      metrics: deps.watch.metrics,
      guard: deps.guard,
      requireToken: () => deps.runtime.current.compiled.config.admin.metricsRequireToken,
    }),
  );
  await app.register(async (scope) =>
    registerEventsRoutes(scope, { recent: deps.watch.observability.recent, guard: deps.guard }),
  );
  await app.register(async (scope) =>
    registerDashboardRoutes(scope, {
      guard: deps.guard,
      runtime: deps.runtime,
      revocations: deps.revocations,
      observability: deps.watch.observability,
      blocks: deps.blocks,
      signals: deps.signals,
      lineage: deps.lineage,
      clock: deps.watch.clock,
      isDraining: deps.isDraining,
    }),
  );
}
