import type { VerifiedToken } from './verify-token.js';

/** What a token is bound to (RFC 7800 `cnf`): a DPoP key's thumbprint, a certificate's, or both. */
export interface TokenBinding {
  /** `cnf.jkt` (RFC 9449 §6.1): RFC 7638 SHA-256 thumbprint of the DPoP proof key. */
  readonly jkt: string | undefined;
  /** `cnf["x5t#S256"]` (RFC 8705 §3.1): SHA-256 of the client certificate's DER. */
  readonly x5t: string | undefined;
}

// SHA-256 in base64url without padding, nothing else (RFC 8705 §3.1 "MUST omit all trailing pad").
const SHA256_B64URL = /^[A-Za-z0-9_-]{43}$/;

/**
 * The binding a verified token's `cnf` claim names, or why it names none this gateway can hold
 * it to. A `cnf` with other members only (`jwk`, `kid`) is not accepted as unbound: the issuer
 * meant the token to be held by someone, and treating it as a bearer token would undo that.
 */
export function bindingOf(cnf: unknown): TokenBinding | string {
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return 'cnf is not an object';
  const c = cnf as Record<string, unknown>;
  const jkt = c.jkt;
  const x5t = c['x5t#S256'];
  if (jkt !== undefined && (typeof jkt !== 'string' || !SHA256_B64URL.test(jkt)))
    return 'cnf.jkt is not a base64url SHA-256 thumbprint';
  if (x5t !== undefined && (typeof x5t !== 'string' || !SHA256_B64URL.test(x5t)))
    return 'cnf["x5t#S256"] is not a base64url SHA-256 thumbprint';
  if (jkt === undefined && x5t === undefined) return 'cnf names neither jkt nor x5t#S256';
  return { jkt: jkt as string | undefined, x5t: x5t as string | undefined };
}

/**
 * Whom a token's use is attributed to by the replay rule: the key or certificate it is bound
 * to, else the token itself. A bound token is useless without its key, so what travels between
 * addresses is the key (and a client's refreshed tokens are one key).
 */
export function replayIdentity(token: Pick<VerifiedToken, 'claims' | 'fingerprint'>): string {
  const cnf = token.claims.cnf;
  if (cnf === undefined) return token.fingerprint;
  const binding = bindingOf(cnf);
  return typeof binding === 'string' ? token.fingerprint : describeBinding(binding);
}

/** How the identity header and the events name a binding: `jkt:<thumbprint>`, `x5t:<thumbprint>`. */
export function describeBinding(binding: TokenBinding): string {
  if (binding.jkt !== undefined && binding.x5t !== undefined) return `jkt:${binding.jkt}, x5t:${binding.x5t}`;
  return binding.jkt !== undefined ? `jkt:${binding.jkt}` : `x5t:${binding.x5t}`;
}
