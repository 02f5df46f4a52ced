import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { MintRecorder, ResponseCapture } from './mint-capture.js';
import { forward } from './proxy-exchange.js';
import { sendRefusal } from './refusal-reply.js';

const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

/**
 * One catch-all route forwards every authenticated request to its route's upstream. Fastify's
 * routes are fixed once it listens, so the per-route decisions (upstream, path rewrite, time-out)
 * are data in the request's configuration generation, which a reload can replace.
 */
export function registerProxyRoute(app: FastifyInstance, mint?: MintRecorder): void {
  const handler = mint === undefined ? proxyHandler : mintingHandler(mint);
  // A body is the upstream's business: it is handed on as the stream it arrives as, in both
  // directions, never parsed or buffered here (a 50 MB attachment costs no memory).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.route({ method: METHODS, url: '/', handler });
  app.route({ method: METHODS, url: '/*', handler });
}

/** proxyHandler, plus lineage recording on routes that mint tokens (mint-capture.ts). */
function mintingHandler(mint: MintRecorder): (request: FastifyRequest, reply: FastifyReply) => void {
  return (request, reply) => {
    const route = request.gatewayRoute;
    const runtime = request.runtime;
    const parent = request.auth;
    if (route === null || runtime === null || parent === null || route.mintIssuers.size === 0) {
      proxyHandler(request, reply);
      return;
    }
    const capture = mint.capture({
      req: request.raw,
      res: reply.raw,
      route,
      parent,
      verifier: runtime.verifier,
      config: runtime.compiled.config,
      protection: runtime.protection,
    });
    proxyHandler(request, reply, capture);
  };
}

function proxyHandler(request: FastifyRequest, reply: FastifyReply, capture?: ResponseCapture): void {
  const route = request.gatewayRoute;
  // The auth hook set both, or refused the request before any handler ran.
  const target = route === null ? undefined : request.runtime?.upstreams.get(route);
  if (target === undefined) {
    sendRefusal(reply, 'no_route');
    return;
  }
  // From here the leg writes the raw response itself: no reply serialisation, no stream pump.
  reply.hijack();
  forward(request.raw, reply.raw, target, request.auth, request.log, capture);
}
