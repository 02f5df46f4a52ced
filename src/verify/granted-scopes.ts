import { scopesOf } from './check-claims.js';
import type { Claims } from './parse-token.js';

const NO_SCOPES: ReadonlySet<string> = new Set();

// An issuer grants a few distinct scope strings to many tokens: the Set of a string seen before
// is shared instead of split and built again for every new token. Shared, hence read-only
// (ReadonlySet; scope checks and identity headers only read it). Bounded, and emptied when full,
// so distinct strings cost what they did without it.
const MEMO_ENTRIES = 256;
const known = new Map<string, ReadonlySet<string>>();

/** The token's granted scopes (scopesOf), shared between tokens that grant the same ones. */
export function grantedScopes(claims: Claims): ReadonlySet<string> {
  const { scp, scope } = claims;
  if (scope !== undefined || typeof scp !== 'string') {
    return scp === undefined && scope === undefined ? NO_SCOPES : scopesOf(claims);
  }
  let scopes = known.get(scp);
  if (scopes === undefined) {
    scopes = scopesOf(claims);
    if (known.size >= MEMO_ENTRIES) known.clear();
    known.set(scp, scopes);
  }
  return scopes;
}
