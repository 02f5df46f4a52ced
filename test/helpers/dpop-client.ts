// A DPoP client as RFC 9449 describes one, built on jose: its own key pair, generated at test
// time with jose's asynchronous generateKeyPair (the synchronous node:crypto form can hang on
// Node 20.20, see PITFALLS.md), and proofs signed with it.
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface DpopKey {
  readonly alg: string;
  readonly publicJwk: JWK;
  readonly privateKey: CryptoKey;
  /** RFC 7638 thumbprint, as an issuer puts it in `cnf.jkt`. */
  readonly jkt: string;
}

export async function dpopKey(
  alg: 'ES256' | 'RS256' | 'PS256' | 'ES384' | 'EdDSA' = 'ES256',
): Promise<DpopKey> {
  const options = alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {};
  const { publicKey, privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    publicJwk,
    privateKey: privateKey as CryptoKey,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  };
}

export interface ProofOptions {
  readonly method: string;
  readonly url: string;
  /** The access token the proof goes with (its `ath`); omitted when undefined. */
  readonly token?: string;
  readonly nonce?: string;
  /** Epoch seconds; default now. */
  readonly iat?: number;
  readonly jti?: string;
  /** Claims to add or override (`htm`, `htu`, `ath`, ...); undefined removes one. */
  readonly claims?: Record<string, unknown>;
  /** Header members to add or override (`typ`, `alg`, `jwk`, ...). */
  readonly header?: Record<string, unknown>;
}

export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A DPoP proof JWT for one request. */
export async function dpopProof(key: DpopKey, o: ProofOptions): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: o.jti ?? randomUUID(),
    htm: o.method,
    htu: o.url,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
  };
  if (o.token !== undefined) payload.ath = ath(o.token);
  if (o.nonce !== undefined) payload.nonce = o.nonce;
  for (const [name, value] of Object.entries(o.claims ?? {})) {
    if (value === undefined) delete payload[name];
    else payload[name] = value;
  }
  return (
    new SignJWT(payload)
      .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...o.header } as never)
      // A `crit` the test names is one jose is told it understands, so that it signs it at all.
      .sign(
        key.privateKey,
        Array.isArray(o.header?.crit)
          ? { crit: Object.fromEntries((o.header.crit as string[]).map((c) => [c, true])) }
          : undefined,
      )
  );
}
