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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'provgate' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
