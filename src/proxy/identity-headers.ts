import type { IncomingHttpHeaders } from 'node:http';
import type { VerifiedToken } from '../verify/verify-token.js';
import type { CompiledRoute } from './compile-routes.js';

/**
 * The headers the upstream receives: the client's own x-auth-* are removed first, so an
 * upstream can trust every x-auth-* it sees; an identity header is absent when its claim is.
 */
export function identityHeaders(
  headers: IncomingHttpHeaders,
  auth: VerifiedToken | null,
  route: CompiledRoute | null,
): IncomingHttpHeaders {
  for (const name of Object.keys(headers)) {
    if (name.length > 7 && name.startsWith('x-auth-')) delete headers[name];
  }
  if (route !== null && !route.forwardToken) delete headers.authorization;
  if (auth === null) return headers;
  const { claims } = auth;
  headers['x-auth-issuer'] = auth.issuer.id;
  if (claims.sub !== undefined) headers['x-auth-subject'] = claims.sub;
  if (claims.tid !== undefined) headers['x-auth-tenant'] = claims.tid;
  if (claims.jti !== undefined) headers['x-auth-token-id'] = claims.jti;
  if (auth.scopes.size > 0) headers['x-auth-scopes'] = [...auth.scopes].join(' ');
  return headers;
}
