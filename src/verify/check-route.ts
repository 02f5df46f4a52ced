import type { CompiledRoute } from '../config/compile-routes.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { AuthFailure } from './auth-failure.js';
import type { VerifiedToken } from './verify-token.js';

/**
 * Steps 6 (audience) to 9 for one route: what this route accepts from a verified token.
 * Runs on every request, cached token or not, so a revocation applies the moment it lands.
 */
export function checkRoute(
  token: VerifiedToken,
  route: CompiledRoute,
  revocations: RevocationMirror,
  nowMs: number,
): void {
  const { claims, issuer } = token;
  if (!audienceMatches(claims.aud, route.audiences))
    throw new AuthFailure('audience_mismatch', detailOf(token));

  if (!route.issuers.has(issuer.id)) {
    throw new AuthFailure(
      issuer.role === 'resource' ? 'resource_minted_token' : 'issuer_not_accepted',
      detailOf(token),
    );
  }
  if (claims.act !== undefined && !route.allowDelegation)
    throw new AuthFailure('delegation_not_allowed', detailOf(token));

  if (claims.jti !== undefined && revocations.isTokenRevoked(issuer.id, claims.jti, nowMs)) {
    throw new AuthFailure('token_revoked', detailOf(token));
  }
  const iat = claims.iat ?? 0;
  if (claims.sub !== undefined) {
    const before = revocations.subjectRevokedBefore(issuer.id, claims.sub);
    if (before !== undefined && iat < before) throw new AuthFailure('subject_revoked', detailOf(token));
  }
  const issuerBefore = revocations.issuerRevokedBefore(issuer.id);
  if (issuerBefore !== undefined && iat < issuerBefore)
    throw new AuthFailure('issuer_revoked', detailOf(token));

  for (const scope of route.scopes) {
    if (!token.scopes.has(scope)) {
      throw new AuthFailure('insufficient_scope', { ...detailOf(token), note: `missing scope ${scope}` });
    }
  }
}

// Built only when refusing: an accepted request allocates nothing here.
function detailOf(token: VerifiedToken) {
  return {
    issuerId: token.issuer.id,
    claimedIssuer: token.issuer.iss,
    kid: token.key.kid,
    sub: token.claims.sub,
    jti: token.claims.jti,
  };
}

function audienceMatches(
  aud: string | readonly string[] | undefined,
  accepted: ReadonlySet<string>,
): boolean {
  if (aud === undefined) return false;
  if (typeof aud === 'string') return accepted.has(aud);
  return aud.some((a) => accepted.has(a));
}
