import type { CompiledIssuer } from '../keys/issuer-registry.js';
import { AuthFailure } from './auth-failure.js';
import type { Claims } from './parse-token.js';

const REQUIRED = ['sub', 'exp', 'iat'] as const;

/**
 * Issuer-level claim rules, in a fixed order, against an injected clock so that tests never
 * sleep. Runs only after the signature verified: a forged token gets bad_signature, never a
 * claim reason. Cheap enough to run again on every cache hit, which is what keeps `exp` exact.
 */
export function checkClaims(claims: Claims, issuer: CompiledIssuer, nowMs: number): void {
  const now = nowMs / 1000;
  const skew = issuer.clockSkewSeconds;
  const detail = { issuerId: issuer.id, sub: claims.sub, jti: claims.jti };
  if (claims.exp !== undefined && now >= claims.exp + skew) throw new AuthFailure('token_expired', detail);
  if (claims.nbf !== undefined && claims.nbf > now + skew)
    throw new AuthFailure('token_not_yet_valid', detail);
  if (claims.iat !== undefined && claims.iat > now + skew)
    throw new AuthFailure('token_not_yet_valid', detail);
  const max = issuer.maxTokenLifetimeSeconds;
  if (
    max !== undefined &&
    claims.exp !== undefined &&
    claims.iat !== undefined &&
    claims.exp - claims.iat > max
  ) {
    throw new AuthFailure('token_lifetime_exceeded', detail);
  }
  for (const name of REQUIRED) {
    // An empty sub names nobody: it would reach the upstream as an empty x-auth-subject.
    if (claims[name] === undefined || claims[name] === '')
      throw new AuthFailure('claim_missing', { ...detail, note: `no ${name} claim` });
  }
  if (issuer.tenants !== undefined && (claims.tid === undefined || !issuer.tenants.has(claims.tid))) {
    throw new AuthFailure('tenant_not_allowed', { ...detail, note: `tid ${claims.tid ?? '(none)'}` });
  }
}

/** Granted scopes from `scp` (string or list, as Microsoft issues them) and `scope` (RFC 8693). */
export function scopesOf(claims: Claims): ReadonlySet<string> {
  const scopes = new Set<string>();
  const add = (value: string | readonly string[] | undefined) => {
    if (value === undefined) return;
    for (const s of typeof value === 'string' ? value.split(' ') : value) if (s !== '') scopes.add(s);
  };
  add(claims.scp);
  add(claims.scope);
  return scopes;
}
