// Development and test only: a DPoP client's proofs (RFC 9449 §4), for `provgate dpop proof`
// and the demo's curl lines. The private key never leaves the file it is read from.
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type JWK, SignJWT } from 'jose';

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** The public half of a private JWK, as a proof's `jwk` header carries it. */
export function publicJwkOf(privateJwk: JWK): JWK {
  return Object.fromEntries(
    Object.entries(privateJwk).filter(([name]) => !PRIVATE_MEMBERS.has(name) && name !== 'key_ops'),
  ) as JWK;
}

/** RFC 7638 thumbprint of the key: what an issuer puts in the token's `cnf.jkt`. */
export function jwkThumbprint(privateJwk: JWK): Promise<string> {
  return calculateJwkThumbprint(publicJwkOf(privateJwk), 'sha256');
}

export interface ProofRequest {
  readonly method: string;
  /** The URL the client addresses (the gateway's `listen.publicOrigin` plus the path). */
  readonly url: string;
  /** The access token the proof goes with: its hash becomes `ath`. */
  readonly accessToken?: string | undefined;
  /** A server nonce (`DPoP-Nonce`), when the gateway asks for one. */
  readonly nonce?: string | undefined;
}

/** A DPoP proof JWT by `privateJwk` for one request: a fresh `jti`, `iat` now. */
export async function makeDpopProof(privateJwk: JWK, request: ProofRequest): Promise<string> {
  const alg = privateJwk.alg;
  if (alg === undefined) throw new Error('the private key names no alg');
  const key = await importJWK(privateJwk, alg);
  const url = new URL(request.url);
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm: request.method.toUpperCase(),
    htu: `${url.origin}${url.pathname}`,
    iat: Math.floor(Date.now() / 1000),
  };
  if (request.accessToken !== undefined)
    payload.ath = createHash('sha256').update(request.accessToken).digest('base64url');
  if (request.nonce !== undefined) payload.nonce = request.nonce;
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: publicJwkOf(privateJwk) })
    .sign(key);
}
