import type { IncomingMessage } from 'node:http';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from 'fastify';
import { AuthFailure } from '../verify/auth-failure.js';
import { SetError } from './set-error.js';
import type { SetOutcome, SignalReceiver } from './signal-receiver.js';

/** RFC 8935 leaves the limit to the receiver; a SET is a few kilobytes. */
export const MAX_SET_BYTES = 64 * 1024;
// When a transmitter should try again after the store was away (a 503).
const RETRY_AFTER_SECONDS = 5;

/**
 * RFC 8935 push delivery on the proxy listener: POST application/secevent+jwt to the configured
 * path. 202 with an empty body once the SET is applied and stored; 400 {err, description} when it
 * is refused; 503 (Retry-After) when the store is away, so the transmitter sends it again. Its own
 * scope: the body is read (at most 64 KiB) as text, which the proxy route never does.
 */
export async function registerSignalsRoute(
  app: FastifyInstance,
  receiver: SignalReceiver,
  /** Source admission of the request pipeline (deny lists, blocked addresses): it throws to refuse. */
  admitSource: (raw: IncomingMessage) => void = () => {},
): Promise<void> {
  const path = receiver.pushPath;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_SET_BYTES }, (_request, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        // Refused unread (a declared length is checked before reading); the connection closes.
        reply.header('connection', 'close');
        return reply
          .code(413)
          .send({ err: 'invalid_request', description: `a SET is at most ${MAX_SET_BYTES} bytes` });
      }
      if ((error.statusCode ?? 500) < 500)
        return reply.code(400).send({ err: 'invalid_request', description: 'the request could not be read' });
      request.log.error({ err: error, event: 'signal.push_error' }, 'unexpected error on the push endpoint');
      return reply.code(500).send({ err: 'server_error' });
    });
    // The listener answers Expect: 100-continue itself only once a request is authorised (see
    // http/unread-body-guard.ts); a push is read here, so it says continue here, within the limit.
    scope.addHook('onRequest', (request, reply, done) => {
      // The bearer hook is skipped for this path, the operator's deny lists and blocks are not.
      try {
        admitSource(request.raw);
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        reply.code(403).send({ err: 'access_denied', description: 'this source is refused' });
        return;
      }
      const declared = Number(request.headers['content-length'] ?? 0);
      if (request.headers.expect?.toLowerCase() === '100-continue' && declared <= MAX_SET_BYTES)
        reply.raw.writeContinue();
      done();
    });
    scope.route({
      method: 'POST',
      url: path,
      bodyLimit: MAX_SET_BYTES,
      handler: (request, reply) => push(receiver, request, reply),
    });
    scope.route({
      method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: path,
      handler: (_request, reply) =>
        reply.code(405).header('allow', 'POST').send({ err: 'invalid_request', description: 'POST a SET' }),
    });
  });
}

async function push(
  receiver: SignalReceiver,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store');
  if (!isSecEventMediaType(request.headers['content-type']))
    return refused(reply, new SetError('invalid_request', 'Content-Type must be application/secevent+jwt'));
  const authorizations = countHeader(request.raw.rawHeaders, 'authorization');
  if (authorizations > 1)
    return refused(reply, new SetError('authentication_failed', 'more than one Authorization header'));
  const body = typeof request.body === 'string' ? request.body : '';
  const outcome: SetOutcome = await receiver.receive(body, {
    via: 'push',
    authorization: request.headers.authorization,
  });
  switch (outcome.status) {
    case 'applied':
    case 'duplicate':
    case 'ignored':
      return reply.code(202).send();
    case 'refused':
      return refused(reply, outcome.error);
    case 'unavailable':
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send({ description: 'the SET could not be applied now; send it again' });
  }
}

function refused(reply: FastifyReply, error: SetError): FastifyReply {
  return reply.code(400).send({ err: error.err, description: error.description });
}

function isSecEventMediaType(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.split(';', 1)[0]!.trim().toLowerCase() === 'application/secevent+jwt';
}

function countHeader(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n += 1;
  return n;
}

/**
 * The request hook with the push path left out: a transmitter authenticates with its signature
 * (and its Authorization header, checked by the receiver), never with a bearer token. Exactly
 * that path, without its query: any other spelling goes through the hook like every request.
 */
export function exceptPushPath(path: string, hook: onRequestHookHandler): onRequestHookHandler {
  return function authenticateUnlessPush(this: FastifyInstance, request, reply, done) {
    const url = request.url;
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) === path) {
      done();
      return;
    }
    return hook.call(this, request, reply, done);
  };
}
