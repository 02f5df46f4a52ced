import type { FastifyInstance } from 'fastify';
import { bodyUnread } from '../proxy/unread-body.js';

/**
 * A refused request's body is never read:
 *  - `Expect: 100-continue` is answered by the proxy leg only once the request is authorised.
 *    Without a `checkContinue` listener Node sends `100 Continue` by itself, before any hook has
 *    looked at the token, inviting an unauthenticated client to upload; with it, the request
 *    goes through the same pipeline as any other and a refusal is its final answer (RFC 9110
 *    §10.1.1).
 *  - A reply Fastify sends (a refusal) while the client's body is unread closes the connection:
 *    keeping it alive would make Node read the whole body first, to find the next request.
 */
export function installUnreadBodyGuard(app: FastifyInstance): void {
  const server = app.server;
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  app.addHook('onSend', (request, reply, payload, done) => {
    if (bodyUnread(request.raw)) reply.header('connection', 'close');
    done(null, payload);
  });
}
