import type { CompiledRoute } from '../config/compile-routes.js';
import { AuthFailure } from './auth-failure.js';
import { tokenDetail } from './token-detail.js';
import type { VerifiedToken } from './verify-token.js';

/**
 * Provenance: whether this route takes tokens from where this one came from. The audience names
 * the route's API, the issuer must be one the route lists (a resource API's own token is
 * `resource_minted_token`, critical on a token-minting route), and an `act` claim (RFC 8693
 * delegation) needs `allowDelegation`. On every request, cached token or not: the route is the
 * request's, the verified-token cache knows none.
 */
export function checkProvenance(token: VerifiedToken, route: CompiledRoute): void {
  const { claims, issuer } = token;
  if (!audienceMatches(claims.aud, route.audiences))
    throw new AuthFailure('audience_mismatch', tokenDetail(token));
  if (!route.issuers.has(issuer.id)) {
    throw new AuthFailure(
      issuer.role === 'resource' ? 'resource_minted_token' : 'issuer_not_accepted',
      tokenDetail(token),
    );
  }
  if (claims.act !== undefined && !route.allowDelegation)
    throw new AuthFailure('delegation_not_allowed', tokenDetail(token));
}

function audienceMatches(
  aud: string | readonly string[] | undefined,
  accepted: ReadonlySet<string>,
): boolean {
  if (aud === undefined) return false;
  if (typeof aud === 'string') return accepted.has(aud);
  return aud.some((a) => accepted.has(a));
}
