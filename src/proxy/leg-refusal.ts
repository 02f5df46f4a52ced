import type { IncomingMessage, ServerResponse } from 'node:http';
import { refusalOf } from './refusal-reply.js';
import { bodyUnread } from './unread-body.js';

/** The refusals the proxy leg itself gives once the request is authorised. */
export type LegReason =
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_busy'
  | 'body_timeout'
  | 'mint_refused'
  | 'lineage_unavailable';

/**
 * Writes a refusal on the raw response (the leg has taken the reply from Fastify), in the same
 * wire form as every other refusal (refusalOf). With the client's body still unread the
 * connection is closed once the answer is out; `then` runs when the answer has been handed to
 * the socket (the leg aborts the upstream request only then, as that may destroy the socket).
 */
export function writeLegRefusal(
  req: IncomingMessage,
  res: ServerResponse,
  reason: LegReason,
  retryAfterSeconds?: number,
  then?: () => void,
): void {
  const { status, headers, body } = refusalOf(reason, retryAfterSeconds);
  // A copy: refusalOf's headers may be shared by every refusal of the reason.
  const out: Record<string, string | number> = { ...headers, 'content-length': Buffer.byteLength(body) };
  if (bodyUnread(req)) out.connection = 'close';
  res.writeHead(status, out);
  res.end(body, then);
}
