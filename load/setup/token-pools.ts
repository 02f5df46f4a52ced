import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enterpriseClaims } from './enterprise-claims.js';
import { signMany, withForeignPayload, withUnknownKid } from './sign-jwt.js';
import type { SigningKey } from './signing-key.js';

/**
 * Token lists as sent: `one` repeated, `valid` rotated, `invalid` four kinds interleaved, `mixed` 1:1,
 * `badsig` as many distinct tokens as `valid`, each a valid token's header and payload with another
 * token's signature: every one costs a full signature check, the dearest refusal there is.
 */
export interface TokenPools {
  readonly one: readonly string[];
  readonly valid: readonly string[];
  readonly invalid: readonly string[];
  readonly mixed: readonly string[];
  readonly badsig: readonly string[];
}
export type PoolName = keyof TokenPools;
export type PoolFiles = Readonly<Record<PoolName, string>>;

export const INVALID_KINDS = ['bad signature', 'unknown kid', 'garbage', 'expired'] as const;

function garbage(i: number): string {
  // Half look like a JWS (three parts, none of them JSON), half are one opaque blob.
  const blob = randomBytes(780).toString('base64url');
  return i % 2 === 0 ? `${blob.slice(0, 60)}.${blob.slice(60, 600)}.${blob.slice(600)}` : blob;
}

/**
 * `size` valid RS256 tokens and as many invalid ones. Only the valid and the expired tokens are
 * really signed (the slow part, ~1 ms each); the other refusals are cut from valid tokens so
 * they keep a realistic size.
 */
export async function buildPools(key: SigningKey, size: number): Promise<TokenPools> {
  const now = Math.floor(Date.now() / 1000);
  const valid = await signMany(key, size, (n) => enterpriseClaims(n, now));
  // Signed by the right key, but an hour past their exp: the full verification cost.
  const expired = await signMany(key, Math.ceil(size / INVALID_KINDS.length), (n) =>
    enterpriseClaims(2 * size + n, now - 7200),
  );
  const invalid: string[] = [];
  for (let n = 0; n < size; n++) {
    const source = valid[n]!;
    switch (INVALID_KINDS[n % INVALID_KINDS.length]) {
      case 'bad signature':
        invalid.push(withForeignPayload(source, enterpriseClaims(size + n, now)));
        break;
      case 'unknown kid':
        invalid.push(withUnknownKid(source, key.alg, `retired-${n}`));
        break;
      case 'garbage':
        invalid.push(garbage(n));
        break;
      default:
        invalid.push(expired[Math.floor(n / INVALID_KINDS.length)]!);
    }
  }
  const mixed = valid.flatMap((v, i) => [v, invalid[i]!]);
  const badsig = valid.map((v, i) => withForeignPayload(v, enterpriseClaims(3 * size + i, now)));
  return { one: [valid[0]!], valid, invalid, mixed, badsig };
}

/** Writes each pool as a JSON array of ready Authorization header values. */
export function writePools(dir: string, pools: TokenPools): PoolFiles {
  const files = {} as Record<PoolName, string>;
  for (const name of Object.keys(pools) as PoolName[]) {
    const path = join(dir, `pool-${name}.json`);
    writeFileSync(path, JSON.stringify(pools[name].map((t) => `Bearer ${t}`)));
    files[name] = path;
  }
  return files;
}
