import pino, { type DestinationStream, type Logger } from 'pino';

// Anything that may hold a bearer token or an admin secret. Fastify's own request serializer
// logs no headers, but a stray `req` or `headers` object from elsewhere must still be safe.
const REDACT = [
  'authorization',
  'token',
  'headers.authorization',
  'req.headers.authorization',
  'request.headers.authorization',
  '*.authorization',
  '*.token',
];

// A client may put its token in the URL (RFC 6750 2.3 `access_token`); provgate never reads it
// there, and the access log must not keep it either.
const TOKEN_PARAM = /([?&](?:access_token|id_token|refresh_token|token)=)[^&#]*/gi;
const COMPACT_JWS = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

export function redactUrl(url: string): string {
  return url.replace(TOKEN_PARAM, '$1[redacted]').replace(COMPACT_JWS, '[redacted]');
}

interface RequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number };
}

/** Fastify's request serializer (same fields), with credentials cut out of the URL. */
function serializeRequest(req: RequestLike): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'provgate' },
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { req: serializeRequest },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Asynchronous writes to stdout: lines logged while a write is in flight go out together
    // in the next one, instead of one blocking write(2) per refusal. Nothing waits for a quiet
    // period (no minimum length), and pino flushes what is pending when the process exits.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
