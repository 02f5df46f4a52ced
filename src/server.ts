import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildAdminApp } from './admin/admin-app.js';
import { ConfigError } from './config/config-error.js';
import { loadConfigFile } from './config/load-config.js';
import { maxClockSkewSeconds } from './config/max-clock-skew.js';
import { buildGateway, type Gateway } from './http/app.js';
import { registerSenderConstraintMetrics } from './http/sender-constraint-metrics.js';
import type { CompiledIssuer } from './keys/issuer-registry.js';
import { createLineageStore } from './lineage/create-lineage-store.js';
import { registerLineageMetrics } from './lineage/lineage-metrics.js';
import { LineageService } from './lineage/lineage-service.js';
import { createLogger } from './observability/logger.js';
import { createMetricsRegistry } from './observability/metrics-registry.js';
import { createObservability, type Observability } from './observability/observability.js';
import { packageVersion } from './observability/package-version.js';
import type { Protection } from './protection/protection.js';
import { createRevocationStore } from './revocation/create-store.js';
import { RevocationService } from './revocation/revocation-service.js';
import { type CompiledConfig, compileConfig } from './runtime/compile-config.js';
import { createRuntime } from './runtime/gateway-runtime.js';
import { ConfigReloader, type ReloadOutcome } from './runtime/reload-config.js';
import { RuntimeHolder } from './runtime/runtime-holder.js';
import { startProtection } from './runtime/start-protection.js';
import { compileSignals } from './signals/compile-signals.js';
import { createSignalReceiver } from './signals/create-signals.js';
import { registerSignalMetrics } from './signals/signal-metrics.js';
import type { SignalReceiver } from './signals/signal-receiver.js';
import { RedisLink } from './store/redis-link.js';
import { createTrustStore } from './trust/create-trust-store.js';
import { TrustService } from './trust/trust-service.js';
import { createProofReplay } from './verify/dpop/create-proof-replay.js';
import { registerIntrospectionMetrics } from './verify/introspection/introspection-metrics.js';
import { IntrospectionStats } from './verify/introspection/introspection-stats.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly admin: FastifyInstance;
  /** The configuration in force now: a reload replaces it. */
  readonly compiled: CompiledConfig;
  /** The configuration generation in force, and what a request arriving now is served under. */
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  /** Lineage records of minted tokens, shared by every instance with Redis. */
  readonly lineage: LineageService;
  /** Key trust decisions (quarantine, trust, distrust), shared by every instance with Redis. */
  readonly trust: TrustService;
  /** The protection rules in force; undefined without a `protection:` section. */
  readonly protection: Protection | undefined;
  readonly logger: Logger;
  /** Counters, recent security events and the Redis event stream. */
  readonly observability: Observability;
  /** The Shared Signals receiver; undefined without a `signals:` section. */
  readonly signals: SignalReceiver | undefined;
  /** Base URLs of the two listeners as bound (ports resolved when configured as 0). */
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /**
   * Reads the config file again and puts it in force if it is sound (SIGHUP, a file change and
   * POST /reload all come here); a file with problems changes nothing and says why.
   */
  reload(trigger?: string): Promise<ReloadOutcome>;
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
  // Transmitters' key sets load like the issuers'; the section changes only with a restart.
  const signalProblems: string[] = [];
  const signals = await compileSignals(config, path, compiled.registry, signalProblems, {
    clock: options.clock,
  });
  if (signalProblems.length > 0) throw new ConfigError(signalProblems);
  const logger = options.logger ?? createLogger(config.log.level);
  for (const warning of compiled.warnings) logger.warn({ event: 'config.warning' }, warning);
  const clock = options.clock ?? Date.now;
  // One pair of Redis connections (commands, subscriber) for every store of this process.
  const link = config.store.kind === 'redis' ? new RedisLink(config.store, logger) : undefined;
  // First, so that the first key sets' trust events reach the ring and the stream too.
  const observability = createObservability(config, compiled.routes, logger, clock, link?.client);
  const events = observability.events;
  // Trust and lineage sit below observability: they get the one notice path as a callback.
  const notice = events.notice.bind(events);
  // Key trust decisions, read before the loaded key sets are screened for new keys (keys.newKeys).
  const trust = new TrustService({
    store: createTrustStore(config.store, link, logger),
    logger,
    clock,
    resyncMs: config.store.resyncSeconds * 1000,
    issuers: (): Iterable<CompiledIssuer> => runtime.current.compiled.registry.byId.values(),
    events: notice,
  });
  await trust.start();
  compiled.keySets.start(logger, trust);
  // Introspection counters outlive a configuration generation: /metrics keeps counting.
  const introspectionStats = new IntrospectionStats();
  const revocations = new RevocationService({
    store: createRevocationStore(config.store, link, logger),
    storeConfig: config.store,
    logger,
    clock,
    clockSkewSeconds: maxClockSkewSeconds(config),
  });
  await revocations.start(config.revocations);
  const lineage = new LineageService({
    store: createLineageStore(config.store, link, logger),
    storeConfig: config.store,
    logger,
    clock,
    events: notice,
  });
  await lineage.start();
  // Same kind of store as revocations: memory for one process, Redis for every instance.
  const protection =
    compiled.protection === undefined
      ? undefined
      : await startProtection(compiled.protection, {
          store: config.store,
          link,
          logger,
          clock,
          events: observability.events,
        });
  const runtime = new RuntimeHolder(
    createRuntime(compiled, {
      generation: 1,
      revocations: revocations.mirror,
      trust: trust.index,
      clock,
      protection,
      introspectionStats,
      logger,
    }),
  );
  const signalReceiver: SignalReceiver | undefined =
    signals === undefined
      ? undefined
      : createSignalReceiver(signals, {
          config,
          revocations,
          logger,
          events: observability.events,
          clock,
          tokenIssuers: () => runtime.current.compiled.registry,
          link,
        });
  await signalReceiver?.start();
  // DPoP proof ids: one atomic Redis command per DPoP request makes a proof single-use everywhere.
  const proofReplay = createProofReplay(config, link, clock);
  const gateway = await buildGateway(runtime, {
    logger,
    revocations,
    clock,
    events: observability.events,
    stats: observability.stats,
    signals: signalReceiver,
    proofReplay,
    lineage,
    tls: compiled.listenerTls,
  });
  const reloader = new ConfigReloader({
    path,
    env: options.env,
    runtime,
    revocations,
    trust,
    introspectionStats,
    stats: observability.stats,
    events: observability.events,
    logger,
    clock,
    link,
  });
  let draining = false;
  const metrics = createMetricsRegistry({
    stats: observability.stats,
    cacheStats: () => runtime.cacheStats(),
    issuers: () => runtime.current.compiled.registry.byId.values(),
    trust: trust.index,
    keySets: () => runtime.current.compiled.keySets.status(),
    revocations,
    clock,
    isDraining: () => draining,
    stream: observability.stream,
    blocks: () => runtime.current.protection?.blocks,
    version: packageVersion(),
  });
  if (signalReceiver !== undefined) registerSignalMetrics(metrics, signalReceiver);
  registerSenderConstraintMetrics(metrics, gateway.senderConstraint);
  registerIntrospectionMetrics(metrics, introspectionStats);
  registerLineageMetrics(metrics, lineage);
  const admin = await buildAdminApp({
    runtime,
    revocations,
    logger,
    isDraining: () => draining,
    reload: (trigger) => reloader.reload(trigger),
    watch: { observability, metrics, clock },
    signals: signalReceiver,
    trust,
    lineage,
  });
  const adminUrl = await admin.listen({ host: config.admin.host, port: config.admin.port });
  const proxyUrl = await gateway.app.listen({ host: config.listen.host, port: config.listen.port });
  reloader.watch(config.reload.watch);
  logger.info(
    { event: 'gateway.started', proxyUrl, adminUrl, store: config.store.kind },
    'provgate listening',
  );

  return {
    gateway,
    admin,
    get compiled() {
      return runtime.current.compiled;
    },
    runtime,
    revocations,
    lineage,
    trust,
    get protection() {
      return runtime.current.protection;
    },
    logger,
    observability,
    signals: signalReceiver,
    proxyUrl,
    adminUrl,
    reload: (trigger = 'api') => reloader.reload(trigger),
    async close(graceMs = 10_000) {
      // Readiness goes first, and stays off a moment while the proxy still serves, so that a
      // balancer polling /readyz stops sending before connections are refused.
      draining = true;
      await reloader.close();
      const readinessGraceMs = runtime.current.compiled.config.lifecycle.readinessGraceSeconds * 1000;
      if (readinessGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, readinessGraceMs));
      const server = gateway.app.server;
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      // A keep-alive connection whose last request just finished would hold close() open until
      // the grace ends: close each as soon as it is idle, so the drain lasts as long as the work.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      try {
        const closing = gateway.app.close();
        // Upgraded connections are no longer the server's to close, yet its close waits for
        // them: a tunnel never ends by itself, so they end here, once the listener is shut.
        gateway.tunnels.stop();
        await closing;
      } finally {
        clearTimeout(timer);
        clearInterval(sweep);
      }
      await admin.close();
      await observability.close();
      const last = runtime.current;
      // Every client connection is gone, and with it every request on these pools.
      await last.pools.close(1000);
      await last.introspection?.close();
      last.compiled.keySets.stop();
      await last.protection?.stop();
      await signalReceiver?.stop();
      await revocations.stop();
      await lineage.stop();
      await trust.stop();
      proofReplay.close();
      link?.close();
      logger.info({ event: 'gateway.stopped' }, 'provgate stopped');
    },
  };
}
