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
import { SecurityEvents } from './observability/security-events.js';
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
  const verifier = new TokenVerifier({
    registry: compiled.registry,
    revocations: deps.revocations.mirror,
    clock,
    cache: config.verification.cache,
    forgeryChecksPerSecond: config.verification.forgeryChecksPerSecond,
  });

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !config.log.access }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.decorateRequest('auth', null);
  app.decorateRequest('gatewayRoute', null);
  app.addHook(
    'onRequest',
    createAuthHook({
      matcher: new RouteMatcher(compiled.routes),
      verifier,
      revocations: deps.revocations,
      events,
      clock,
      maxTokenBytes: config.verification.maxTokenBytes,
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
