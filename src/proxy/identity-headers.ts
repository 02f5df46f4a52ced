import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { VerifiedToken } from '../verify/verify-token.js';

/**
 * The headers the upstream receives: the client's own x-auth-* are removed first, so an
 * upstream can trust every x-auth-* it sees; an identity header is absent when its claim is.
 */
export function identityHeaders(
  headers: IncomingHttpHeaders,
  auth: VerifiedToken | null,
  route: CompiledRoute | null,
): IncomingHttpHeaders {
  for (const name in headers) {
    if (name.length > 7 && name.startsWith('x-auth-')) delete headers[name];
  }
  if (route !== null && !route.forwardToken) delete headers.authorization;
  if (auth === null) return headers;
  const { claims } = auth;
  headers['x-auth-issuer'] = auth.issuer.id;
  if (claims.sub !== undefined) headers['x-auth-subject'] = headerValue(claims.sub);
  if (claims.tid !== undefined) headers['x-auth-tenant'] = headerValue(claims.tid);
  if (claims.jti !== undefined) headers['x-auth-token-id'] = headerValue(claims.jti);
  if (auth.scopes.size > 0) {
    let scopes = '';
    for (const scope of auth.scopes) scopes += (scopes === '' ? '' : ' ') + headerValue(scope);
    headers['x-auth-scopes'] = scopes;
  }
  return headers;
}

// Visible ASCII except '%': such a value goes out as it is, so the common case costs one test.
const PLAIN = /^[!-$&-~]+$/;

/**
 * Claims are JSON strings: any Unicode, control characters, spaces. A header value is not
 * (undici refuses them, and a raw byte's meaning depends on the reader). Everything but
 * visible ASCII is therefore percent-encoded as UTF-8 (RFC 3986), and so is '%', which makes
 * decoding unambiguous: an upstream applies decodeURIComponent to every x-auth-* value.
 */
export function headerValue(value: string): string {
  if (PLAIN.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
