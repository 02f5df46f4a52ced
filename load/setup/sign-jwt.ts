import { sign } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningKey } from './signing-key.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

const signAsync = promisify(sign);
const BATCH = 256;

/** Compact JWS with node:crypto (RFC 7515); ES256 signatures are r||s as JWS requires. */
export async function signJwt(
  key: SigningKey,
  payload: Record<string, unknown>,
  kid = key.kid,
): Promise<string> {
  const signingInput = `${b64({ alg: key.alg, kid, typ: 'JWT' })}.${b64(payload)}`;
  const data = Buffer.from(signingInput);
  // The callback form runs in libuv's pool: signing thousands of RSA tokens uses every core.
  const signature =
    key.alg === 'ES256'
      ? await signAsync('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : await signAsync('sha256', data, key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** `count` tokens with payloads from `claims(n)`, signed a batch at a time. */
export async function signMany(
  key: SigningKey,
  count: number,
  claims: (n: number) => Record<string, unknown>,
): Promise<string[]> {
  const tokens: string[] = [];
  for (let start = 0; start < count; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - start) }, (_, i) =>
      signJwt(key, claims(start + i)),
    );
    tokens.push(...(await Promise.all(batch)));
  }
  return tokens;
}

/** The same token with a different, unsigned payload: same size, signature that cannot verify. */
export function withForeignPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64(payload)}.${signature}`;
}

/** The same token claiming a kid no issuer has. */
export function withUnknownKid(token: string, alg: string, kid: string): string {
  const [, payload, signature] = token.split('.');
  return `${b64({ alg, kid, typ: 'JWT' })}.${payload}.${signature}`;
}
