import type { FailureDetail } from './auth-failure.js';
import type { VerifiedToken } from './verify-token.js';

/**
 * How a refusal names a token that verified (provenance, revocations, protection, scopes): the
 * one place that says which fields the security event carries for it. Built only when refusing,
 * so an accepted request allocates nothing here.
 */
export function tokenDetail(token: VerifiedToken, note?: string): FailureDetail {
  return {
    claimedIssuer: token.issuer.iss,
    issuerId: token.issuer.id,
    kid: token.key.kid,
    alg: token.alg,
    sub: token.claims.sub,
    jti: token.claims.jti,
    note,
  };
}
