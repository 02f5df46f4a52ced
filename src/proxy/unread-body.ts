import type { IncomingMessage } from 'node:http';

/**
 * Whether the client announced a body that has not been read to its end. A response sent now
 * must close the connection: keeping it would make Node read (and throw away) the rest of the
 * body first, which is exactly what a refused 50 MB upload must not cost.
 */
export function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const headers = req.headers;
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
