import httpProxy from '@fastify/http-proxy';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { CompiledConfig } from './config/compile-config.js';
import { installOverloadGuard } from './lifecycle/overload-guard.js';
import type { RequestStats } from './observability/request-stats.js';
import { SecurityEvents } from './observability/security-events.js';
import type { Protection } from './protection/protection.js';
import { createAuthHook } from './proxy/auth-hook.js';
import type { CompiledRoute } from './proxy/compile-routes.js';
import './proxy/fastify-augment.js';
import { identityHeaders } from './proxy/identity-headers.js';
import { RouteMatcher } from './proxy/match-route.js';
import type { RevocationService } from './revocation/revocation-service.js';
import { sendRefusal } from './verify/refusal-reply.js';
import { TokenVerifier } from './verify/verify-token.js';

export interface GatewayDeps {
  readonly logger: Logger;
  readonly revocations: RevocationService;
  readonly clock?: () => number;
  readonly events?: SecurityEvents;
  /** Deny lists, blocks, rate limits and anomaly rules; absent without a `protection:` section. */
  readonly protection?: Protection | undefined;
  /** Per-request counters behind /metrics and the dashboard; absent in tests that need none. */
  readonly stats?: RequestStats | undefined;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly verifier: TokenVerifier;
  readonly events: SecurityEvents;
}

/** The proxy listener: pipeline in onRequest, one streaming @fastify/http-proxy per route. No I/O here. */
export async function buildGateway(compiled: CompiledConfig, deps: GatewayDeps): Promise<Gateway> {
  const { config } = compiled;
  const clock = deps.clock ?? Date.now;
  const events = deps.events ?? new SecurityEvents(deps.logger);
  const protection = deps.protection;
  if (protection !== undefined) {
    // Failure bursts and critical events are decided from the refusals themselves; anomalies
    // join the refusals on the security event stream.
    events.onRefusal((event) => protection.onRefusal(event));
    protection.onAnomaly((event) => events.anomaly(event));
  }
  const verifier = new TokenVerifier({
    registry: compiled.registry,
    revocations: deps.revocations.mirror,
    clock,
    cache: config.verification.cache,
    forgeryChecksPerSecond: config.verification.forgeryChecksPerSecond,
    keyRefetch: compiled.keySets,
  });

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !config.log.access }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Node refuses more than 16 KiB of headers with a bare 431 before any hook runs; leave room
    // for a token past maxTokenBytes so that it is refused as malformed_token, with its event.
    http: { maxHeaderSize: config.verification.maxTokenBytes + 16 * 1024 },
  });
  app.decorateRequest('auth', null);
  app.decorateRequest('gatewayRoute', null);
  // Before authentication: an overloaded instance should not spend a signature check on a 503.
  installOverloadGuard(app, {
    maxEventLoopDelayMs: config.lifecycle.maxEventLoopDelayMs,
    retryAfterSeconds: config.lifecycle.overloadRetryAfterSeconds,
    onReject: deps.stats === undefined ? undefined : () => (deps.stats!.overloadRejections += 1),
  });
  if (deps.stats !== undefined) app.addHook('onResponse', deps.stats.onResponse);
  app.addHook(
    'onRequest',
    createAuthHook({
      matcher: new RouteMatcher(compiled.routes),
      verifier,
      revocations: deps.revocations,
      events,
      clock,
      maxTokenBytes: config.verification.maxTokenBytes,
      protection,
      stats: deps.stats,
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

  for (const route of compiled.routes) await registerRoute(app, route);
  return { app, verifier, events };
}

async function registerRoute(app: FastifyInstance, route: CompiledRoute): Promise<void> {
  await app.register(httpProxy, {
    upstream: route.upstream,
    prefix: route.prefix === '/' ? '' : route.prefix,
    rewritePrefix: route.rewritePrefix ?? route.prefix,
    httpMethods: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'],
    replyOptions: {
      timeout: route.timeoutMs,
      rewriteRequestHeaders: (request, headers) =>
        identityHeaders(headers, request.auth, request.gatewayRoute),
      onError: (reply, { error }) => {
        const timedOut = (error as { statusCode?: number }).statusCode === 504;
        reply.log.warn({ event: 'upstream.error', route: route.name, err: error.message }, 'upstream failed');
        sendRefusal(reply as FastifyReply, timedOut ? 'upstream_timeout' : 'upstream_unavailable');
      },
    },
  });
}
