import type { CompiledIssuer } from '../keys/issuer-registry.js';
import { AuthFailure } from './auth-failure.js';
import type { JoseHeader } from './parse-token.js';
import { isUnsignedOrSymmetric } from './reasons.js';

// Keys never come from the token: a header naming or carrying one is an attack, not a hint.
const KEY_SUPPLYING_MEMBERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** Verification, header: members that would let the token choose its own key or semantics. */
export function checkForbiddenHeader(header: JoseHeader): void {
  for (const member of KEY_SUPPLYING_MEMBERS) {
    if (header[member] !== undefined) {
      throw new AuthFailure('forbidden_header', {
        alg: header.alg,
        kid: header.kid,
        note: `header carries ${member}`,
      });
    }
  }
  // provgate understands no critical extension, so any `crit` is one it must refuse (RFC 7515 4.1.11).
  if (header.crit !== undefined) {
    throw new AuthFailure('forbidden_header', {
      alg: header.alg,
      kid: header.kid,
      note: 'header carries crit',
    });
  }
}

/** Verification, algorithm: on the issuer's allow-list, and the token type the one required. */
export function checkAlgAndType(header: JoseHeader, issuer: CompiledIssuer): void {
  const alg = header.alg;
  if (!(issuer.algorithms as ReadonlySet<string>).has(alg)) {
    const note = isUnsignedOrSymmetric(alg) ? `unsigned or symmetric alg ${alg}` : `alg ${alg} not allowed`;
    throw new AuthFailure('alg_not_allowed', { alg, kid: header.kid, issuerId: issuer.id, note });
  }
  if (issuer.requireTyp !== undefined && !sameMediaType(header.typ, issuer.requireTyp)) {
    throw new AuthFailure('wrong_token_type', { alg, kid: header.kid, issuerId: issuer.id });
  }
}

/** RFC 7515 4.1.9: typ compares case-insensitively and may omit the `application/` prefix. */
function sameMediaType(actual: string | undefined, required: string): boolean {
  if (actual === undefined) return false;
  const strip = (t: string) => t.toLowerCase().replace(/^application\//, '');
  return strip(actual) === strip(required);
}
