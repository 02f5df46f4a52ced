import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { RequestStats } from '../observability/request-stats.js';
import { SecurityEvents } from '../observability/security-events.js';
import type { ListenerTls } from '../runtime/load-listener-tls.js';
import type { SenderConstraint } from '../verify/check-sender-constraint.js';
import { prepareTlsSocket } from '../verify/client-certificate.js';
import type { ProofReplayStore } from '../verify/dpop/proof-replay.js';
import { createAuthHook } from './auth-hook.js';
import { createHeaderLimit } from './header-limit.js';
import { createLineageSteps } from './lineage-setup.js';
import { httpsOptions } from './listener-tls.js';
import { createOverloadGuard } from './overload-guard.js';
import { createRequestHook } from './request-hook.js';
import { lazyChildLogger } from './request-logger.js';
import type { PipelineDeps } from './request-pipeline.js';
import { createSenderConstraint } from './sender-constraint-setup.js';
import { installUnreadBodyGuard } from './unread-body-guard.js';
import { installUpgradeListener } from './upgrade-listener.js';
import './fastify-augment.js';
import type { LineageService } from '../lineage/lineage-service.js';
import { registerProxyRoute } from '../proxy/proxy-route.js';
import { sendRefusal } from '../proxy/refusal-reply.js';
import { TunnelRegistry } from '../proxy/tunnel-registry.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { exceptPushPath, registerSignalsRoute } from '../signals/push-route.js';
import type { SignalReceiver } from '../signals/signal-receiver.js';

export interface GatewayDeps {
  readonly logger: Logger;
  readonly revocations: RevocationService;
  readonly clock?: () => number;
  readonly events?: SecurityEvents;
  /** Per-request counters behind /metrics and the dashboard; absent in tests that need none. */
  readonly stats?: RequestStats | undefined;
  /** The Shared Signals receiver: its push route, and its step in the pipeline. */
  readonly signals?: SignalReceiver | undefined;
  /** DPoP proof ids shared by every instance (Redis store); this process's memory when absent. */
  readonly proofReplay?: ProofReplayStore | undefined;
  /** `listen.tls`, read and checked with the configuration (runtime/load-listener-tls.ts): the proxy listener speaks TLS. */
  readonly tls?: ListenerTls | undefined;
  /** Lineage of minted tokens: recorded on minting routes, checked where resource tokens are taken. */
  readonly lineage?: LineageService | undefined;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly events: SecurityEvents;
  /** DPoP proofs and certificate bindings: its outcome counters feed /metrics. */
  readonly senderConstraint: SenderConstraint;
  /** Open upgraded connections, closed when their credential dies; stop() them at shutdown. */
  readonly tunnels: TunnelRegistry;
}

/**
 * The proxy listener: the pipeline in onRequest, then one streaming catch-all proxy route. Routes,
 * keys and protection come from the generation in `runtime`, which a reload replaces. No I/O here.
 */
export async function buildGateway(runtime: RuntimeHolder, deps: GatewayDeps): Promise<Gateway> {
  // Listener settings are fixed for the life of the process; a reload keeps them (restart-settings.ts).
  const { config } = runtime.current.compiled;
  const clock = deps.clock ?? Date.now;
  const events = deps.events ?? new SecurityEvents(deps.logger);
  // Failure bursts and critical events are decided from the refusals themselves, by the
  // protection rules in force (none without a `protection:` section).
  events.onRefusal((event) => runtime.current.protection?.onRefusal(event));

  // Node refuses more than 16 KiB of headers with a bare 431 before any hook runs; leave room
  // for a token past maxTokenBytes so that it is refused as malformed_token, with its event.
  const maxHeaderSize = config.verification.maxTokenBytes + 16 * 1024;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !config.log.access }),
    // request.log is made when a request logs, not for every request (request-logger.ts).
    childLoggerFactory: lazyChildLogger,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    http: { maxHeaderSize },
    ...(deps.tls === undefined ? {} : { https: httpsOptions(deps.tls, maxHeaderSize) }),
  }) as unknown as FastifyInstance;
  // A connection's client certificate cannot change under it (see client-certificate.ts).
  if (deps.tls !== undefined) app.server.on('secureConnection', prepareTlsSocket);
  let boundOrigin: string | undefined;
  app.addHook('onListen', async () => {
    const address = app.server.address();
    if (address !== null && typeof address === 'object') {
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      boundOrigin = `${deps.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
    }
  });
  const senderConstraint = createSenderConstraint({
    config,
    runtime,
    replay: deps.proofReplay,
    events,
    logger: deps.logger,
    clock,
    boundOrigin: () => boundOrigin,
  });
  events.onRefusal((event) => senderConstraint.outcomes.refused(event.reason));
  app.decorateRequest('auth', null);
  app.decorateRequest('gatewayRoute', null);
  app.decorateRequest('runtime', null);
  // Before authentication: an overloaded instance should not spend a signature check on a 503.
  const overload = createOverloadGuard(app, {
    maxEventLoopDelayMs: config.lifecycle.maxEventLoopDelayMs,
    retryAfterSeconds: config.lifecycle.overloadRetryAfterSeconds,
    onReject: deps.stats === undefined ? undefined : () => (deps.stats!.overloadRejections += 1),
  });
  if (deps.stats !== undefined) app.addHook('onResponse', deps.stats.onResponse);
  const headerLimit = createHeaderLimit(config.listen.maxRequestHeaders, events);
  const lineage = createLineageSteps(deps.lineage, { ...deps, runtime, events, clock });
  // One set of steps for both ways in: the request hook and the upgrade listener.
  const pipeline: PipelineDeps = {
    revocations: deps.revocations,
    events,
    clock,
    maxTokenBytes: config.verification.maxTokenBytes,
    stats: deps.stats,
    signals: deps.signals,
    senderConstraint,
    lineage: lineage.check,
  };
  const authenticate = createAuthHook({ runtime, ...pipeline });
  // A transmitter's push carries a signed SET, not a bearer token: that one path skips the hook.
  const signals = deps.signals;
  // One onRequest hook, one pass of the hook runner: the listener's checks, then the pipeline.
  app.addHook(
    'onRequest',
    createRequestHook({
      overload,
      headerLimit,
      authenticate: signals === undefined ? authenticate : exceptPushPath(signals.pushPath, authenticate),
    }),
  );
  app.setNotFoundHandler((_request, reply) => sendRefusal(reply, 'no_route'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // Anything not an AuthFailure is our fault or a broken client stream: log the detail, leak nothing.
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) {
      request.log.info(
        { err: { message: error.message, code: (error as { code?: string }).code } },
        'bad request',
      );
      return reply.code(status).send({ error: 'bad_request' });
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send({ error: 'server_error' });
  });
  installUnreadBodyGuard(app);
  // Before the catch-all proxy route: the push path is the receiver's, never an upstream's.
  if (signals !== undefined)
    await registerSignalsRoute(app, signals, (raw) => runtime.current.protection?.admitSource(raw));
  registerProxyRoute(app, lineage.recorder);
  const tunnels = new TunnelRegistry({ mirror: deps.revocations.mirror, events, clock });
  installUpgradeListener(app.server, { runtime, pipeline, tunnels, logger: deps.logger });
  return { app, events, senderConstraint, tunnels };
}
