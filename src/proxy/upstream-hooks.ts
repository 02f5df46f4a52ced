import type { IncomingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2IncomingHttpHeaders } from 'node:http2';
import type { FastifyReplyFromHooks } from '@fastify/reply-from';
import type { FastifyReply } from 'fastify';
import { identityHeaders } from './identity-headers.js';
import { sendRefusal } from './refusal-reply.js';

type Headers = IncomingHttpHeaders | Http2IncomingHttpHeaders;
type Hook<K extends keyof FastifyReplyFromHooks> = NonNullable<FastifyReplyFromHooks[K]>;

/** Request headers for the upstream: the client's own x-auth-* out, the verified identity in. */
export const forwardHeaders: Hook<'rewriteRequestHeaders'> = (request, headers) =>
  identityHeaders(headers as IncomingHttpHeaders, request.auth, request.gatewayRoute);

/** The upstream refused, broke or outwaited the connection: a reason like any other refusal. */
export const upstreamFailed: Hook<'onError'> = (reply, { error }) => {
  const timedOut = (error as { statusCode?: number }).statusCode === 504;
  reply.log.warn(
    { event: 'upstream.error', route: reply.request.gatewayRoute?.name, err: error.message },
    'upstream failed',
  );
  sendRefusal(reply as FastifyReply, timedOut ? 'upstream_timeout' : 'upstream_unavailable');
};

const INVALID_VALUE = /[^\t\x20-\x7E\x80-\xFF]/;
const INVALID_VALUE_ALL = /[^\t\x20-\x7E\x80-\xFF]/g;

/**
 * Response headers for the client. A value Node refuses to send would throw while the reply is
 * being written and break that request; drop the offending characters instead (as
 * @fastify/http-proxy does). A value that is fine, the usual case, costs one regex test.
 */
export function cleanResponseHeaders(headers: Headers): Headers {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') {
      if (INVALID_VALUE.test(value)) headers[name] = value.replace(INVALID_VALUE_ALL, '');
    } else if (Array.isArray(value)) {
      headers[name] = value.map((v) => v.replace(INVALID_VALUE_ALL, ''));
    }
  }
  return headers;
}

const ABSOLUTE_URL = /^https?:\/\//;

function underPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?' || next === '#';
}

/**
 * For a route whose upstream sees another path prefix: a relative `Location` names the upstream's
 * path, and the client must be sent to the gateway's.
 */
export function locationRewriter(
  upstreamPrefix: string,
  gatewayPrefix: string,
): (headers: Headers) => Headers {
  return (headers) => {
    const location = headers.location;
    // Only a leading prefix on a segment boundary is the upstream's path: not the same text
    // later in the path, nor '/calendar' under the prefix '/cal'.
    if (
      typeof location === 'string' &&
      !ABSOLUTE_URL.test(location) &&
      underPrefix(location, upstreamPrefix)
    ) {
      headers.location = gatewayPrefix + location.slice(upstreamPrefix.length);
    }
    return cleanResponseHeaders(headers);
  };
}
