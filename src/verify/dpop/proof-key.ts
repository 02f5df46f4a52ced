import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { KeyEntry } from '../../keys/key-entry.js';

// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4): a proof's
// `jwk` "MUST NOT contain a private key" (RFC 9449 §4.3 check 7).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const B64URL = /^[A-Za-z0-9_-]+$/;
// Base64url lengths of the coordinates: 32, 48 and 66 bytes; Ed25519 32, Ed448 57 bytes.
const EC_COORDINATE_LENGTH: Readonly<Record<string, number>> = { 'P-256': 43, 'P-384': 64, 'P-521': 88 };
const OKP_X_LENGTH: Readonly<Record<string, number>> = { Ed25519: 43, Ed448: 76 };
// RSA moduli of 2048 to 8192 bits: smaller ones are not a key worth binding a token to.
const RSA_MIN_N = 342;
const RSA_MAX_N = 1366;

/** A proof's public key, its required members checked (RFC 7638 §3.2). */
export interface ProofJwk {
  readonly kty: 'EC' | 'RSA' | 'OKP';
  readonly crv: string | undefined;
  /** RFC 7638 thumbprint (SHA-256, base64url): what `cnf.jkt` names. */
  readonly thumbprint: string;
  /** The members the key is made of, in thumbprint order. */
  readonly members: Readonly<Record<string, string>>;
  /** The JWK's own `alg`, when it names one. */
  readonly alg: string | undefined;
}

/** The public key a proof's `jwk` header describes, or a reason why it does not describe one. */
export function proofJwkOf(jwk: unknown): ProofJwk | string {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return 'jwk is not an object';
  const j = jwk as Record<string, unknown>;
  for (const member of PRIVATE_MEMBERS) if (j[member] !== undefined) return 'jwk holds a private key';
  const alg = j.alg === undefined ? undefined : typeof j.alg === 'string' ? j.alg : null;
  if (alg === null) return 'jwk alg is not a string';
  const b64 = (name: string, length?: number): string | undefined => {
    const v = j[name];
    if (typeof v !== 'string' || !B64URL.test(v)) return undefined;
    return length === undefined || v.length === length ? v : undefined;
  };
  switch (j.kty) {
    case 'EC': {
      const crv = typeof j.crv === 'string' ? j.crv : '';
      const length = EC_COORDINATE_LENGTH[crv];
      const x = b64('x', length);
      const y = b64('y', length);
      if (length === undefined || x === undefined || y === undefined)
        return 'jwk is not an EC P-256, P-384 or P-521 public key';
      return described(
        'EC',
        crv,
        { crv, kty: 'EC', x, y },
        `{"crv":"${crv}","kty":"EC","x":"${x}","y":"${y}"}`,
        alg,
      );
    }
    case 'RSA': {
      const n = b64('n');
      const e = b64('e');
      if (n === undefined || e === undefined || e.length > 8) return 'jwk is not an RSA public key';
      if (n.length < RSA_MIN_N || n.length > RSA_MAX_N) return 'jwk RSA modulus outside 2048 to 8192 bits';
      return described('RSA', undefined, { e, kty: 'RSA', n }, `{"e":"${e}","kty":"RSA","n":"${n}"}`, alg);
    }
    case 'OKP': {
      const crv = typeof j.crv === 'string' ? j.crv : '';
      const length = OKP_X_LENGTH[crv];
      const x = b64('x', length);
      if (length === undefined || x === undefined) return 'jwk is not an Ed25519 or Ed448 public key';
      return described('OKP', crv, { crv, kty: 'OKP', x }, `{"crv":"${crv}","kty":"OKP","x":"${x}"}`, alg);
    }
    default:
      return 'jwk kty is not EC, RSA or OKP';
  }
}

function described(
  kty: ProofJwk['kty'],
  crv: string | undefined,
  members: Record<string, string>,
  canonical: string,
  alg: string | undefined,
): ProofJwk {
  // The members are checked base64url, so the canonical JSON needs no escaping (RFC 7638 §3.3).
  return { kty, crv, members, alg, thumbprint: createHash('sha256').update(canonical).digest('base64url') };
}

/** Whether a key of this type can make signatures of `alg` (RFC 7518 §3, RFC 8037). */
export function jwkFitsAlg(jwk: ProofJwk, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  switch (alg) {
    case 'ES256':
      return jwk.crv === 'P-256';
    case 'ES384':
      return jwk.crv === 'P-384';
    case 'ES512':
      return jwk.crv === 'P-521';
    case 'EdDSA':
      return jwk.kty === 'OKP';
    default:
      return jwk.kty === 'RSA' && /^(RS|PS)(256|384|512)$/.test(alg);
  }
}

const IMPORTED_KEYS = 10_000;

/**
 * Imported proof keys by thumbprint. Importing an EC key validates its point and costs about
 * 0.3 ms; a client signs every proof with the same key, so it is imported once. Only keys whose
 * thumbprint a verified token names are ever imported (see check-proof.ts), so a stream of
 * proofs by fresh keys cannot fill this with junk.
 */
export class ProofKeys {
  private readonly keys = new LRUCache<string, KeyEntry>({ max: IMPORTED_KEYS });

  /** The key as the signature check takes it; undefined when node:crypto refuses the JWK. */
  entryOf(jwk: ProofJwk): KeyEntry | undefined {
    const known = this.keys.get(jwk.thumbprint);
    if (known !== undefined) return known;
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({ key: jwk.members, format: 'jwk' });
    } catch {
      return undefined;
    }
    const entry: KeyEntry = {
      kid: '',
      issuerId: 'dpop',
      keyObject,
      kty: jwk.kty,
      crv: jwk.crv,
      alg: undefined,
      thumbprint: jwk.thumbprint,
      notBefore: undefined,
      notAfter: undefined,
    };
    this.keys.set(jwk.thumbprint, entry);
    return entry;
  }
}
