// The gateway's own proxy shape without authentication: @fastify/reply-from behind one
// catch-all route, bodies passed through as streams, as src/proxy/proxy-route.ts does it.
// Against this, provgate's ratio is the cost of authentication and nothing else.
import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bareFastify, loadTransport, METHODS, stripIdentityHeaders } from './bare-fastify.js';
import { argValue, exitWithParent } from './exit-with-parent.js';

const upstream = argValue('upstream');
const transport = await loadTransport(argValue('transport'));
const replyOptions = { timeout: 30_000, rewriteRequestHeaders: stripIdentityHeaders };

const app = bareFastify();
await app.register(replyFrom, {
  ...transport.REPLY_FROM_OPTIONS,
  ...(transport.UPSTREAM_AGENT_OPTIONS === undefined ? {} : { undici: transport.UPSTREAM_AGENT_OPTIONS }),
});
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
const forward = (request: FastifyRequest, reply: FastifyReply) => {
  const q = request.url.indexOf('?');
  // reply-from appends the query string itself.
  reply.from(upstream + (q === -1 ? request.url : request.url.slice(0, q)), replyOptions);
};
app.route({ method: [...METHODS], url: '/', handler: forward });
app.route({ method: [...METHODS], url: '/*', handler: forward });
await app.listen({ host: '127.0.0.1', port: Number(argValue('port')) });
exitWithParent(() => app.close());
