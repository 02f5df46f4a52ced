import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildAdminApp } from './admin/admin-app.js';
import { buildGateway, type Gateway } from './app.js';
import { type CompiledConfig, compileConfig } from './config/compile-config.js';
import { loadConfigFile } from './config/load-config.js';
import { createLogger } from './observability/logger.js';
import { createMetricsRegistry } from './observability/metrics-registry.js';
import { createObservability, type Observability } from './observability/observability.js';
import { packageVersion } from './observability/package-version.js';
import { createProtection } from './protection/create-protection.js';
import type { Protection } from './protection/protection.js';
import { createRevocationStore } from './revocation/create-store.js';
import { RevocationService } from './revocation/revocation-service.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly admin: FastifyInstance;
  readonly compiled: CompiledConfig;
  readonly revocations: RevocationService;
  /** Undefined without a `protection:` section. */
  readonly protection: Protection | undefined;
  readonly logger: Logger;
  /** Counters, recent security events and the Redis event stream. */
  readonly observability: Observability;
  /** Base URLs of the two listeners as bound (ports resolved when configured as 0). */
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** Readiness off, in-flight requests finished (within `graceMs`), everything closed. */
  close(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

export async function startGateway(configPath: string, options: StartOptions = {}): Promise<RunningGateway> {
  const { config, path } = loadConfigFile(configPath, options.env);
  const compiled = await compileConfig(config, path, { clock: options.clock });
  const logger = options.logger ?? createLogger(config.log.level);
  for (const warning of compiled.warnings) logger.warn({ event: 'config.warning' }, warning);
  compiled.keySets.start(logger);
  const clock = options.clock ?? Date.now;
  const maxSkew = Math.max(...Object.values(config.issuers).map((i) => i.clockSkewSeconds));
  const revocations = new RevocationService({
    store: createRevocationStore(config.store, logger),
    storeConfig: config.store,
    logger,
    clock,
    clockSkewSeconds: maxSkew,
  });
  await revocations.start(config.revocations);
  // Same kind of store as revocations: memory for one process, Redis for every instance.
  const protection =
    compiled.protection === undefined
      ? undefined
      : createProtection(compiled.protection, { store: config.store, logger, clock });
  await protection?.start();
  const observability = createObservability(config, compiled.routes, logger, clock);
  const gateway = await buildGateway(compiled, {
    logger,
    revocations,
    clock,
    protection,
    events: observability.events,
    stats: observability.stats,
  });
  let draining = false;
  const metrics = createMetricsRegistry({
    stats: observability.stats,
    verifier: gateway.verifier,
    compiled,
    revocations,
    clock,
    isDraining: () => draining,
    stream: observability.stream,
    blocks: protection?.blocks,
    version: packageVersion(),
  });
  const admin = await buildAdminApp({
    compiled,
    revocations,
    protection,
    logger,
    isDraining: () => draining,
    watch: { observability, metrics, clock },
  });
  const adminUrl = await admin.listen({ host: config.admin.host, port: config.admin.port });
  const proxyUrl = await gateway.app.listen({ host: config.listen.host, port: config.listen.port });
  logger.info(
    { event: 'gateway.started', proxyUrl, adminUrl, store: config.store.kind },
    'provgate listening',
  );

  return {
    gateway,
    admin,
    compiled,
    revocations,
    protection,
    logger,
    observability,
    proxyUrl,
    adminUrl,
    async close(graceMs = 10_000) {
      // Readiness goes first, and stays off a moment while the proxy still serves, so that a
      // balancer polling /readyz stops sending before connections are refused.
      draining = true;
      const readinessGraceMs = config.lifecycle.readinessGraceSeconds * 1000;
      if (readinessGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, readinessGraceMs));
      const server = gateway.app.server;
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      // A keep-alive connection whose last request just finished would hold close() open until
      // the grace ends: close each as soon as it is idle, so the drain lasts as long as the work.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      try {
        await gateway.app.close();
      } finally {
        clearTimeout(timer);
        clearInterval(sweep);
      }
      await admin.close();
      await observability.close();
      compiled.keySets.stop();
      await protection?.stop();
      await revocations.stop();
      logger.info({ event: 'gateway.stopped' }, 'provgate stopped');
    },
  };
}
