import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildAdminApp } from './admin/admin-app.js';
import { buildGateway, type Gateway } from './app.js';
import { type CompiledConfig, compileConfig } from './config/compile-config.js';
import { loadConfigFile } from './config/load-config.js';
import { createLogger } from './observability/logger.js';
import { createRevocationStore } from './revocation/create-store.js';
import { RevocationService } from './revocation/revocation-service.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly admin: FastifyInstance;
  readonly compiled: CompiledConfig;
  readonly revocations: RevocationService;
  readonly logger: Logger;
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
  const compiled = await compileConfig(config, path);
  const logger = options.logger ?? createLogger(config.log.level);
  for (const warning of compiled.warnings) logger.warn({ event: 'config.warning' }, warning);
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
  const gateway = await buildGateway(compiled, { logger, revocations, clock });
  let draining = false;
  const admin = await buildAdminApp({ compiled, revocations, logger, isDraining: () => draining });
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
    logger,
    proxyUrl,
    adminUrl,
    async close(graceMs = 10_000) {
      draining = true;
      const timer = setTimeout(() => gateway.app.server.closeAllConnections(), graceMs);
      try {
        await gateway.app.close();
      } finally {
        clearTimeout(timer);
      }
      await admin.close();
      await revocations.stop();
      logger.info({ event: 'gateway.stopped' }, 'provgate stopped');
    },
  };
}
