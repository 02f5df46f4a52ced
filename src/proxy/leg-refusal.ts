import type { IncomingMessage, ServerResponse } from 'node:http';
import { REASONS } from '../verify/reasons.js';
import { bodyUnread } from './unread-body.js';

/** The refusals the proxy leg itself gives once the request is authorised. */
export type LegReason = 'upstream_unavailable' | 'upstream_timeout' | 'upstream_busy' | 'body_timeout';

/**
 * Writes a refusal on the raw response (the leg has taken the reply from Fastify): the same
 * status and `{"error","reason"}` body as every other refusal. With the client's body still
 * unread the connection is closed once the answer is out; `then` runs when it has been handed
 * to the socket (the leg aborts the upstream request only then, as that may destroy the socket).
 */
export function writeLegRefusal(
  req: IncomingMessage,
  res: ServerResponse,
  reason: LegReason,
  retryAfterSeconds?: number,
  then?: () => void,
): void {
  const spec = REASONS[reason];
  const body = `{"error":"${spec.error}","reason":"${reason}"}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
  };
  if (retryAfterSeconds !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  if (bodyUnread(req)) headers.connection = 'close';
  res.writeHead(spec.status, headers);
  res.end(body, then);
}
