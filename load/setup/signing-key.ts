import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { generateDevKey } from '../../src/demo/dev-keys.js';

export type LoadAlg = 'RS256' | 'ES256';

/** A key pair held as node:crypto KeyObjects: signing 10,000 tokens must not re-import a JWK each time. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: LoadAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
}

/** Asynchronous generation only: generateKeyPairSync can hang on this Node (PITFALLS.md). */
export async function newSigningKey(alg: LoadAlg, kid: string): Promise<SigningKey> {
  const dev = await generateDevKey(alg, kid);
  return {
    kid,
    alg,
    privateKey: createPrivateKey({ key: dev.privateJwk as Record<string, unknown>, format: 'jwk' }),
    publicKey: createPublicKey({ key: dev.publicJwk as Record<string, unknown>, format: 'jwk' }),
    publicJwk: dev.publicJwk,
  };
}

/** The public key as PEM (SPKI), the form HAProxy's jwt_verify reads. */
export function publicPem(key: SigningKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
