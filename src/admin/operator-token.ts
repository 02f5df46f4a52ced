import { KeyRefetchPending } from '../keys/key-refetch.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { checkRevocations } from '../verify/check-revocations.js';
import { tokenDetail } from '../verify/token-detail.js';
import type { VerifiedToken } from '../verify/verify-token.js';

export interface OperatorTokenDeps {
  /** The configuration in force: its verifier, key sets and issuers (a reload replaces it). */
  readonly runtime: { readonly current: GatewayRuntime };
  readonly revocations: RevocationService;
  readonly clock: () => number;
}

/** Who may have signed the token and for whom: the operators issuer, and an audience of the admin API. */
export interface OperatorTokenExpectation {
  readonly issuerId: string;
  readonly audiences: ReadonlySet<string>;
}

/**
 * An operator's token (or the dashboard sign-in's ID token) through the gateway's own pipeline:
 * the verifier of the configuration in force (issuer-bound keys, algorithms, claims, key state,
 * the forgery check, its cache), then provenance for the admin API (this issuer only, this
 * audience, no delegation) and the mirrored revocations of token, subject and issuer. So an
 * operator's revoked token is refused like any other, on every instance. Throws AuthFailure.
 */
export async function verifyOperatorToken(
  token: string,
  deps: OperatorTokenDeps,
  expected: OperatorTokenExpectation,
): Promise<VerifiedToken> {
  // Fail closed as the proxy does: a mirror gone stale may be missing this operator's revocation.
  if (deps.revocations.isStale()) throw new AuthFailure('revocation_state_stale');
  const verifier = deps.runtime.current.verifier;
  let verified: VerifiedToken;
  try {
    verified = verifier.verify(token, true);
  } catch (err) {
    if (!(err instanceof KeyRefetchPending)) throw err;
    await err.settled;
    verified = verifier.verify(token, false);
  }
  const { claims, issuer } = verified;
  if (issuer.id !== expected.issuerId) {
    throw new AuthFailure(
      issuer.role === 'resource' ? 'resource_minted_token' : 'issuer_not_accepted',
      tokenDetail(verified, `the admin API accepts tokens of ${expected.issuerId} only`),
    );
  }
  if (!audienceMatches(claims.aud, expected.audiences))
    throw new AuthFailure('audience_mismatch', tokenDetail(verified));
  if (claims.act !== undefined) throw new AuthFailure('delegation_not_allowed', tokenDetail(verified));
  checkRevocations(verified, deps.revocations.mirror, deps.clock());
  return verified;
}

function audienceMatches(
  aud: string | readonly string[] | undefined,
  accepted: ReadonlySet<string>,
): boolean {
  if (aud === undefined) return false;
  if (typeof aud === 'string') return accepted.has(aud);
  return aud.some((a) => accepted.has(a));
}
