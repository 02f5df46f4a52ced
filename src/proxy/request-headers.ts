import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { VerifiedToken } from '../verify/verify-token.js';
import { connectionOptions, isHopByHop } from './hop-by-hop.js';
import { isIdentityHeaderName, pushIdentityHeaders } from './identity-headers.js';

/**
 * The request headers the upstream receives, as undici's flat name/value list: the verified
 * identity first (see identity-headers.ts for why first), then the client's headers without
 *  - hop-by-hop fields and every field the client's `Connection` names (RFC 9110 §7.6.1; undici
 *    would also throw on several of them),
 *  - `Host` (undici writes the upstream's), `Expect` (answered here, after authorisation),
 *  - anything an upstream could read as an identity header, and `Authorization` when the route
 *    does not forward the token,
 * then `X-Forwarded-For`, `-Proto` and `-Host`, each appended to what the client sent (the
 * upstream decides which hops it trusts).
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  auth: VerifiedToken | null,
  forwardToken: boolean,
): string[] {
  const headers = req.headers;
  const out: string[] = [];
  if (auth !== null) pushIdentityHeaders(out, auth);
  const listed = connectionOptions(headers.connection);
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    switch (name) {
      case 'host':
      case 'expect':
        continue;
      case 'authorization':
        if (!forwardToken) continue;
        break;
      case 'x-forwarded-for':
        forwardedFor = joined(value);
        continue;
      case 'x-forwarded-proto':
        forwardedProto = joined(value);
        continue;
      case 'x-forwarded-host':
        forwardedHost = joined(value);
        continue;
    }
    if (isHopByHop(name) || isIdentityHeaderName(name) || listed?.has(name) === true) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  const socket = req.socket;
  const address = socket.remoteAddress ?? '';
  const proto = (socket as TLSSocket).encrypted === true ? 'https' : 'http';
  out.push('x-forwarded-for', forwardedFor === undefined ? address : `${forwardedFor}, ${address}`);
  out.push('x-forwarded-proto', forwardedProto === undefined ? proto : `${forwardedProto}, ${proto}`);
  const host = headers.host;
  if (host !== undefined) {
    out.push('x-forwarded-host', forwardedHost === undefined ? host : `${forwardedHost}, ${host}`);
  } else if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
  return out;
}

function joined(value: string | string[]): string {
  return typeof value === 'string' ? value : value.join(', ');
}
