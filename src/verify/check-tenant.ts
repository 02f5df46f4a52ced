import { tenantOf } from '../keys/issuer-matcher.js';
import type { CompiledIssuer } from '../keys/issuer-registry.js';
import { AuthFailure } from './auth-failure.js';
import type { Claims } from './parse-token.js';

/**
 * A multi-tenant issuer's token names its tenant twice, in `iss` and in `tid`; they must agree,
 * or a token of one tenant could pass for another's wherever `tid` decides (the allow-list,
 * the x-auth-tenant header). Runs after the signature, like every claim check.
 */
export function checkTenant(claims: Claims, issuer: CompiledIssuer): void {
  if (issuer.template === undefined) return;
  const tenant = claims.iss === undefined ? undefined : tenantOf(issuer.template, claims.iss);
  if (tenant === undefined || claims.tid !== tenant) {
    throw new AuthFailure('tenant_mismatch', {
      issuerId: issuer.id,
      claimedIssuer: claims.iss,
      sub: claims.sub,
      jti: claims.jti,
      note: `iss names tenant ${tenant ?? '(none)'}, tid is ${claims.tid ?? '(none)'}`,
    });
  }
}
