import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledRoute } from '../config/compile-routes.js';
import { bindingOf, describeBinding } from '../verify/token-binding.js';
import type { VerifiedToken } from '../verify/verify-token.js';

/**
 * The headers the upstream receives, as a new object: the verified identity first, then the
 * client's headers without any that an upstream could read as an identity header. An identity
 * header is absent when its claim is, so an upstream can trust every x-auth-* it sees.
 *
 * First, because a server keeps only its first so many headers (Node about 1,000) and drops the
 * rest without a word: appended last, the identity is what a crowded request would lose.
 */
export function identityHeaders(
  headers: IncomingHttpHeaders,
  auth: VerifiedToken | null,
  route: CompiledRoute | null,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  if (auth !== null) {
    const pairs: string[] = [];
    pushIdentityHeaders(pairs, auth);
    for (let i = 0; i < pairs.length; i += 2) out[pairs[i]!] = pairs[i + 1];
  }
  const dropAuthorization = route !== null && !route.forwardToken;
  for (const name in headers) {
    if (isIdentityHeaderName(name) || (dropAuthorization && name === 'authorization')) continue;
    out[name] = headers[name];
  }
  return out;
}

// A verified token's identity headers never change (its claims, scopes and issuer are fixed when
// it is verified), and a cached one comes back on every request: they are worked out once per
// verified token (headerValue's tests, the scope list) and copied from here after.
const pairsOf = new WeakMap<VerifiedToken, readonly string[]>();

/** The identity headers as name/value pairs appended to `out`, undici's flat header list. */
export function pushIdentityHeaders(out: string[], auth: VerifiedToken): void {
  let pairs = pairsOf.get(auth);
  if (pairs === undefined) {
    const made: string[] = [];
    identityPairs(made, auth);
    pairs = made;
    pairsOf.set(auth, pairs);
  }
  for (let i = 0; i < pairs.length; i++) out.push(pairs[i]!);
}

function identityPairs(out: string[], auth: VerifiedToken): void {
  const { claims } = auth;
  out.push('x-auth-issuer', auth.issuer.id);
  if (claims.sub !== undefined) out.push('x-auth-subject', headerValue(claims.sub));
  if (claims.tid !== undefined) out.push('x-auth-tenant', headerValue(claims.tid));
  if (claims.jti !== undefined) out.push('x-auth-token-id', headerValue(claims.jti));
  if (auth.scopes.size > 0) {
    let scopes = '';
    for (const scope of auth.scopes) scopes += (scopes === '' ? '' : ' ') + headerValue(scope);
    out.push('x-auth-scopes', scopes);
  }
  // What the token is bound to, now that the sender-constraint step held it there: the proof
  // and the certificate headers themselves never reach the upstream.
  if (claims.cnf !== undefined) {
    const binding = bindingOf(claims.cnf);
    if (typeof binding !== 'string') out.push('x-auth-cnf', describeBinding(binding));
  }
}

const DASH = 0x2d;
const UNDERSCORE = 0x5f;
const LOWER = 0x20;

/**
 * Whether the upstream must never see a client's `name`: an x-auth-* header, or a credential the
 * gateway consumed and answers for with `x-auth-cnf` (the DPoP proof; RFC 9440 `Client-Cert`,
 * `Client-Cert-Chain` and Envoy's `x-forwarded-client-cert`, stripped from every request, as
 * RFC 9440 §2.4 asks of whoever terminates TLS). Rack, WSGI and PHP turn headers into CGI
 * variables (HTTP_X_AUTH_TENANT), where `X_Auth_Tenant` and `x-auth-tenant` are one name: every
 * spelling goes, in any case, not only the dashed one. No allocation: it runs for every header
 * of every request.
 */
export function isIdentityHeaderName(name: string): boolean {
  if (isCredentialHeaderName(name)) return true;
  if (name.length < 7) return false;
  const sep1 = name.charCodeAt(1);
  const sep2 = name.charCodeAt(6);
  return (
    (name.charCodeAt(0) | LOWER) === 0x78 && // x
    (sep1 === DASH || sep1 === UNDERSCORE) &&
    (name.charCodeAt(2) | LOWER) === 0x61 && // a
    (name.charCodeAt(3) | LOWER) === 0x75 && // u
    (name.charCodeAt(4) | LOWER) === 0x74 && // t
    (name.charCodeAt(5) | LOWER) === 0x68 && // h
    (sep2 === DASH || sep2 === UNDERSCORE)
  );
}

/** `DPoP`, `Client-Cert`, `Client_Cert_Chain`, `X-Forwarded-Client-Cert`, ... in any case and with `_`. */
function isCredentialHeaderName(name: string): boolean {
  switch (name.length) {
    case 4:
      return sameName(name, 'dpop');
    case 11:
      return sameName(name, 'client-cert');
    case 17:
      return sameName(name, 'client-cert-chain');
    case 23:
      return sameName(name, 'x-forwarded-client-cert');
    default:
      return false;
  }
}

/** `name` is `lowerDashed` in any case, with `_` for any `-`; compared in place (`host` is 4 long too). */
function sameName(name: string, lowerDashed: string): boolean {
  for (let i = 0; i < lowerDashed.length; i++) {
    const want = lowerDashed.charCodeAt(i);
    const got = name.charCodeAt(i);
    if (want === DASH) {
      if (got !== DASH && got !== UNDERSCORE) return false;
    } else if ((got | LOWER) !== want) return false;
  }
  return true;
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
