import { createHash } from 'node:crypto';
import type { RevocationSpec } from '../config/schema.js';

/** What a lineage record knows of a token that was presented to a minting route: never the token. */
export interface AncestorFacts {
  /** The issuer id in the configuration. */
  readonly issuer: string;
  readonly jti: string | undefined;
  readonly sub: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly kid: string;
  /** RFC 7638 thumbprint of the key that signed it: a kid later reused for other material is not this key. */
  readonly keyThumbprint: string;
  readonly fingerprint: string;
  /** Its `sid`, so that a session revoked by its identity provider reaches what was minted from it. */
  readonly sid?: string | undefined;
}

/** Which member of the token answer a minted token was. */
export type MintedKind = 'access_token' | 'id_token' | 'refresh_token';

export interface ChildFacts {
  readonly issuer: string;
  readonly jti: string;
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  readonly kid: string;
  readonly fingerprint: string;
  readonly kind: MintedKind;
}

/**
 * One minted token and where it came from: the token presented to the minting route (the
 * parent) first, then that token's own ancestors when it was minted too (lineage.maxDepth > 1).
 * A record ends with its child: a token that has expired needs no lineage.
 */
export interface LineageRecord {
  readonly id: string;
  readonly child: ChildFacts;
  /** Parent first, root (the identity provider's token) last; depth = ancestors.length. */
  readonly ancestors: readonly AncestorFacts[];
  /** The minting route's name. */
  readonly route: string;
  /** RFC 3339 instant of the mint. */
  readonly at: string;
  /** The instance that recorded it (host:pid). */
  readonly by: string;
  /** Epoch ms: the child's exp plus its issuer's clock skew. */
  readonly expiresAt: number;
}

/** Derived from the child's issuer and jti: the key every instance looks the token up by. */
export function lineageId(issuerId: string, jti: string): string {
  const digest = createHash('sha256').update(`${issuerId}\u0000${jti}`).digest('hex');
  return `lin-${digest.slice(0, 32)}`;
}

/**
 * Whether `revocation` reaches this ancestor: the same test the revocation step applies to a
 * presented token (token by jti, session by sid, subject and issuer by iat), and a key by kid.
 */
export function revocationReaches(revocation: RevocationSpec, ancestor: AncestorFacts): boolean {
  if (revocation.issuer !== ancestor.issuer) return false;
  switch (revocation.kind) {
    case 'key':
      return revocation.kid === ancestor.kid;
    case 'token':
      return ancestor.jti !== undefined && revocation.jti === ancestor.jti;
    case 'session':
      return ancestor.sid !== undefined && revocation.sid === ancestor.sid;
    case 'subject':
      return revocation.sub === ancestor.sub && ancestor.iat < Date.parse(revocation.before) / 1000;
    case 'issuer':
      return ancestor.iat < Date.parse(revocation.before) / 1000;
  }
}

/** How an operator reads a record's child: `owa jti=… (access_token, alice)`. */
export function describeChild(child: ChildFacts): string {
  return `${child.issuer} jti=${child.jti} (${child.kind}, sub ${child.sub})`;
}
