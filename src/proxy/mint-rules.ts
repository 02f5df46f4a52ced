import type { LineageConfig } from '../config/schema.js';
import type { VerifiedToken } from '../verify/verify-token.js';

/** Which minting-time rule a minted token broke. */
export type MintRule = 'jti' | 'issuer' | 'subject' | 'lifetime' | 'scopes' | 'depth';

export interface MintViolation {
  readonly rule: MintRule;
  readonly note: string;
}

/** Longest jti recorded: a jti is an identifier, and every instance keeps it in memory. */
const MAX_JTI = 256;

/**
 * The rules a minted token (verified under its issuer) must keep towards the token it was minted
 * from: it is trackable (a jti), from an issuer the route mints for, for the same subject, no
 * longer-lived, with no scope the parent lacks (`scopesMustNarrow`), and within `maxDepth`
 * generations of its identity-provider root (`parentDepth` is the parent's own: 0 for an IdP token).
 */
export function mintViolation(
  child: VerifiedToken,
  parent: VerifiedToken,
  mintIssuers: ReadonlySet<string>,
  parentDepth: number,
  settings: LineageConfig,
): MintViolation | undefined {
  const c = child.claims;
  const p = parent.claims;
  if (c.jti === undefined || c.jti.length > MAX_JTI)
    return { rule: 'jti', note: c.jti === undefined ? 'no jti: it could not be tracked' : 'jti too long' };
  if (!mintIssuers.has(child.issuer.id))
    return { rule: 'issuer', note: `issuer ${child.issuer.id} is not in this route's mintIssuers` };
  if (c.sub !== p.sub) return { rule: 'subject', note: 'sub differs from the presented token' };
  if (c.exp === undefined || p.exp === undefined || c.exp > p.exp)
    return { rule: 'lifetime', note: `exp ${c.exp} is later than the presented token's ${p.exp}` };
  if (settings.scopesMustNarrow) {
    for (const scope of child.scopes) {
      if (!parent.scopes.has(scope))
        return { rule: 'scopes', note: `scope ${scope.slice(0, 64)} beyond the presented token's` };
    }
  }
  if (parentDepth + 1 > settings.maxDepth)
    return {
      rule: 'depth',
      note: `depth ${parentDepth + 1} is beyond lineage.maxDepth ${settings.maxDepth}`,
    };
  return undefined;
}
