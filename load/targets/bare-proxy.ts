// The baseline: Fastify + @fastify/http-proxy with no authentication at all, the
// listener options of src/app.ts and (when dist/ has them) the gateway's transport options.
import httpProxy from '@fastify/http-proxy';
import { bareFastify, loadTransport, METHODS, stripIdentityHeaders } from './bare-fastify.js';
import { argValue, exitWithParent } from './exit-with-parent.js';

const upstream = argValue('upstream');
const prefix = argValue('prefix');
const transport = await loadTransport(argValue('transport'));

const app = bareFastify();
await app.register(httpProxy, {
  upstream,
  prefix,
  rewritePrefix: prefix,
  httpMethods: [...METHODS],
  ...transport.REPLY_FROM_OPTIONS,
  ...(transport.UPSTREAM_AGENT_OPTIONS === undefined ? {} : { undici: transport.UPSTREAM_AGENT_OPTIONS }),
  replyOptions: { timeout: 30_000, rewriteRequestHeaders: stripIdentityHeaders },
});
await app.listen({ host: '127.0.0.1', port: Number(argValue('port')) });
exitWithParent(() => app.close());
