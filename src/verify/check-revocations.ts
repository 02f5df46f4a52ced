import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { AuthFailure } from './auth-failure.js';
import { tokenDetail } from './token-detail.js';
import type { VerifiedToken } from './verify-token.js';

/**
 * Revocations of the token (`jti`), of its subject and of its issuer (tokens issued before an
 * instant). The key's revocation is part of verification (select-key.ts), where the key is known.
 * On every request, cached token or not, so a revocation applies the moment it reaches the mirror.
 *
 * It lives beside the other steps rather than in revocation/: it refuses with AuthFailure, which
 * sits in this layer, and revocation/ is below it (test/unit/layering.test.ts).
 */
export function checkRevocations(token: VerifiedToken, revocations: RevocationMirror, nowMs: number): void {
  const { claims, issuer } = token;
  if (claims.jti !== undefined && revocations.isTokenRevoked(issuer.id, claims.jti, nowMs))
    throw new AuthFailure('token_revoked', tokenDetail(token));
  // A session its identity provider ended (CAEP session-revoked): every token naming it.
  const sid = claims.sid;
  if (typeof sid === 'string' && revocations.isSessionRevoked(issuer.id, sid, nowMs))
    throw new AuthFailure('session_revoked', tokenDetail(token));
  const iat = claims.iat ?? 0;
  if (claims.sub !== undefined) {
    const before = revocations.subjectRevokedBefore(issuer.id, claims.sub);
    if (before !== undefined && iat < before) throw new AuthFailure('subject_revoked', tokenDetail(token));
  }
  const issuerBefore = revocations.issuerRevokedBefore(issuer.id);
  if (issuerBefore !== undefined && iat < issuerBefore)
    throw new AuthFailure('issuer_revoked', tokenDetail(token));
}
