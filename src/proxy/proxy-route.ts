import replyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { sendRefusal } from './refusal-reply.js';
import { REPLY_FROM_OPTIONS, UPSTREAM_AGENT_OPTIONS } from './upstream-options.js';
import { upstreamUrl } from './upstream-route.js';

const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

/**
 * One catch-all route forwards every authenticated request to its route's upstream. Fastify's
 * routes are fixed once it listens, so the per-route decisions (upstream, path rewrite, time-out)
 * are data in the request's configuration generation, which a reload can replace.
 */
export async function registerProxyRoute(app: FastifyInstance): Promise<void> {
  // No `base`: one undici Agent, and its keep-alive pools, serves every upstream origin.
  await app.register(replyFrom, { ...REPLY_FROM_OPTIONS, undici: UPSTREAM_AGENT_OPTIONS });
  // A body is the upstream's business: it is handed on as the stream it arrives as, in both
  // directions, never parsed or buffered here (a 50 MB attachment costs no memory).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.route({ method: METHODS, url: '/', handler: forward });
  app.route({ method: METHODS, url: '/*', handler: forward });
}

function forward(request: FastifyRequest, reply: FastifyReply): void {
  const route = request.gatewayRoute;
  // The auth hook set both, or refused the request before any handler ran.
  const target = route === null ? undefined : request.runtime?.upstreams.get(route);
  if (target === undefined) {
    sendRefusal(reply, 'no_route');
    return;
  }
  const url = request.url;
  const q = url.indexOf('?');
  try {
    reply.from(upstreamUrl(target, q === -1 ? url : url.slice(0, q)), target.replyOptions);
  } catch (err) {
    // reply-from decodes the path once more to look for traversal: a malformed escape (%zz)
    // or a '..' it finds is the client's error, as it was with @fastify/http-proxy.
    if (err instanceof URIError || (err as { statusCode?: number }).statusCode === 400) {
      request.log.info({ err: { message: (err as Error).message } }, 'bad request');
      reply.code(400).send({ error: 'bad_request' });
      return;
    }
    throw err;
  }
}
