import type { KeyObject } from 'node:crypto';
import type { Algorithm } from '../config/schema.js';

/** One public key, bound to the single issuer whose set it came from. */
export interface KeyEntry {
  readonly kid: string;
  readonly issuerId: string;
  readonly keyObject: KeyObject;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly crv: string | undefined;
  /** The JWK's own `alg`, when it pins one. */
  readonly alg: string | undefined;
  /** RFC 7638 thumbprint: the key's identity whatever its kid. */
  readonly thumbprint: string;
  /** Validity in epoch milliseconds (config keyValidity, x5c leaf certificate); undefined is open. */
  readonly notBefore: number | undefined;
  readonly notAfter: number | undefined;
  /**
   * Set when the key left its published set: it is unknown from this instant (epoch ms) on.
   * Until then it serves out removedKeyGraceSeconds, for tokens the IdP signed just before.
   */
  readonly removedAfter?: number | undefined;
  /** Set when another issuer's set published this very key material: refused for both. */
  readonly alsoClaimedBy?: string | undefined;
  /** The subject of its x5c leaf certificate, when it publishes one (for the key.appeared event). */
  readonly x5cSubject?: string | undefined;
}

/** Whether this key can produce signatures of `alg` (RFC 7518 section 3). */
export function keySupportsAlg(key: KeyEntry, alg: Algorithm | string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return key.kty === 'RSA';
    case 'ES256':
      return key.kty === 'EC' && key.crv === 'P-256';
    case 'ES384':
      return key.kty === 'EC' && key.crv === 'P-384';
    case 'ES512':
      return key.kty === 'EC' && key.crv === 'P-521';
    case 'EdDSA':
      return key.kty === 'OKP' && (key.crv === 'Ed25519' || key.crv === 'Ed448');
    default:
      return false;
  }
}

/** Whether `atMs` lies inside the key's validity window. */
export function keyActiveAt(key: KeyEntry, atMs: number): boolean {
  return (
    (key.notBefore === undefined || atMs >= key.notBefore) &&
    (key.notAfter === undefined || atMs < key.notAfter)
  );
}
