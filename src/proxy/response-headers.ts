import type { IncomingHttpHeaders } from 'node:http';
import { connectionOptions, isHopByHop } from './hop-by-hop.js';

const INVALID_VALUE = /[^\t\x20-\x7E\x80-\xFF]/;
const INVALID_VALUE_ALL = /[^\t\x20-\x7E\x80-\xFF]/g;
const ABSOLUTE_URL = /^https?:\/\//;

/** How a route's `Location` headers are mapped back: the upstream's path prefix to the gateway's. */
export interface LocationRewrite {
  readonly upstreamPrefix: string;
  readonly gatewayPrefix: string;
}

/**
 * The upstream's response headers as the client gets them, edited in place (undici hands over a
 * fresh object per response):
 *  - hop-by-hop fields and every field the upstream's `Connection` names go (RFC 9110 §7.6.1):
 *    they describe the gateway's connection to the upstream, not the client's, so an upstream's
 *    `Connection: close` closes that connection only;
 *  - a value Node refuses to send would throw while the reply is written: its offending
 *    characters are dropped instead (a value that is fine costs one regex test);
 *  - for a route with `rewritePrefix`, a relative `Location` under the upstream's prefix is sent
 *    back under the gateway's.
 */
export function clientResponseHeaders(
  headers: IncomingHttpHeaders,
  rewrite: LocationRewrite | undefined,
): IncomingHttpHeaders {
  const listed = connectionOptions(headers.connection);
  for (const name in headers) {
    if (isHopByHop(name) || listed?.has(name) === true) {
      delete headers[name];
      continue;
    }
    const value = headers[name];
    if (typeof value === 'string') {
      if (INVALID_VALUE.test(value)) headers[name] = value.replace(INVALID_VALUE_ALL, '');
    } else if (Array.isArray(value)) {
      headers[name] = value.map((v) => v.replace(INVALID_VALUE_ALL, ''));
    }
  }
  if (rewrite !== undefined) rewriteLocation(headers, rewrite);
  return headers;
}

function rewriteLocation(
  headers: IncomingHttpHeaders,
  { upstreamPrefix, gatewayPrefix }: LocationRewrite,
): void {
  const location = headers.location;
  // Only a leading prefix on a segment boundary is the upstream's path: not the same text
  // later in the path, nor '/calendar' under the prefix '/cal'.
  if (typeof location === 'string' && !ABSOLUTE_URL.test(location) && underPrefix(location, upstreamPrefix)) {
    headers.location = gatewayPrefix + location.slice(upstreamPrefix.length);
  }
}

function underPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?' || next === '#';
}
