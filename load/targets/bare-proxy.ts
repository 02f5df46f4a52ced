// The ceiling for our stack: Fastify + @fastify/http-proxy with the options src/app.ts uses,
// and no authentication at all. provgate's cost is measured against this, not against zero.
import { pathToFileURL } from 'node:url';
import httpProxy from '@fastify/http-proxy';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import pino from 'pino';
import { argValue, exitWithParent } from './exit-with-parent.js';

const upstream = argValue('upstream');
const port = Number(argValue('port'));
const prefix = argValue('prefix');
// The gateway's own upstream transport settings (reply-from request logging, undici pool), read
// from its compiled module when the runner names one: the bare proxy then differs from the
// gateway by authentication alone, whatever tuning src/ has at the time.
const transportModule = argValue('transport');
const transport =
  transportModule === 'default'
    ? {}
    : ((await import(pathToFileURL(transportModule).href)) as {
        REPLY_FROM_OPTIONS?: Record<string, unknown>;
        UPSTREAM_AGENT_OPTIONS?: Record<string, unknown>;
      });

const app = Fastify({
  loggerInstance: pino({ level: 'info' }) as FastifyBaseLogger,
  logController: new LogController({ disableRequestLogging: true }),
  return503OnClosing: true,
  forceCloseConnections: 'idle',
});
await app.register(httpProxy, {
  upstream,
  prefix,
  rewritePrefix: prefix,
  httpMethods: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'],
  ...transport.REPLY_FROM_OPTIONS,
  ...(transport.UPSTREAM_AGENT_OPTIONS === undefined ? {} : { undici: transport.UPSTREAM_AGENT_OPTIONS }),
  replyOptions: {
    timeout: 30_000,
    // The same header pass the gateway makes, minus the identity it would add.
    rewriteRequestHeaders: (_request, headers) => {
      for (const name of Object.keys(headers)) {
        if (name.length > 7 && name.startsWith('x-auth-')) delete headers[name];
      }
      return headers;
    },
  },
});
await app.listen({ host: '127.0.0.1', port });
exitWithParent(() => app.close());
