import type { IncomingHttpHeaders } from 'node:http';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import pino from 'pino';

export interface Transport {
  readonly REPLY_FROM_OPTIONS?: Record<string, unknown>;
  readonly UPSTREAM_AGENT_OPTIONS?: Record<string, unknown>;
}

/**
 * The gateway's own upstream transport settings (reply-from request logging, undici pool),
 * read from its compiled module when the runner names one ('default' for none): a bare proxy
 * then differs from the gateway by authentication alone, whatever tuning src/ has at the time.
 */
export async function loadTransport(module: string): Promise<Transport> {
  return module === 'default' ? {} : ((await import(pathToFileURL(module).href)) as Transport);
}

/** A Fastify instance with the options src/app.ts gives the gateway's listener. */
export function bareFastify(): FastifyInstance {
  return Fastify({
    loggerInstance: pino({ level: 'info' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
}

/** The header pass the gateway makes on the way up, minus the identity it would add. */
export function stripIdentityHeaders(_request: unknown, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) {
    if (name.length > 7 && name.startsWith('x-auth-')) delete headers[name];
  }
  return headers;
}

export const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'] as const;
