// Development and test only: key pairs and tokens for the demo, the CLI's `keys generate` and
// `token mint`, and the test suite. Private keys are written only into git-ignored folders.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';

export interface DevKeyPair {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
}

/**
 * jose's asynchronous generateKeyPair: the synchronous node:crypto form intermittently hangs
 * on Node 20.20 when the key is exported right after generation (see PITFALLS.md).
 */
export async function generateDevKey(alg: string, kid: string): Promise<DevKeyPair> {
  const options =
    alg.startsWith('RS') || alg.startsWith('PS')
      ? { extractable: true, modulusLength: 2048 }
      : { extractable: true };
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  return { kid, alg, publicJwk, privateJwk };
}

export function jwksOf(keys: readonly DevKeyPair[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

export interface WrittenKey {
  readonly jwksPath: string;
  readonly privateKeyPath: string;
  readonly key: DevKeyPair;
}

/** Adds a new key to `<dir>/<issuer>.jwks.json` (created if absent) and writes its private half. */
export async function writeDevKey(
  dir: string,
  issuerId: string,
  alg: string,
  kid: string,
): Promise<WrittenKey> {
  const key = await generateDevKey(alg, kid);
  const jwksPath = join(dir, `${issuerId}.jwks.json`);
  const privateKeyPath = join(dir, 'private', `${issuerId}.${kid}.jwk.json`);
  let existing: JWK[] = [];
  try {
    existing = (JSON.parse(await readFile(jwksPath, 'utf8')) as { keys: JWK[] }).keys.filter(
      (k) => k.kid !== kid,
    );
  } catch {
    // no set yet
  }
  await mkdir(dirname(privateKeyPath), { recursive: true, mode: 0o700 });
  await writeFile(jwksPath, `${JSON.stringify({ keys: [...existing, key.publicJwk] }, null, 2)}\n`);
  await writeFile(privateKeyPath, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600 });
  return { jwksPath, privateKeyPath, key };
}

export async function readPrivateKey(path: string): Promise<JWK> {
  return JSON.parse(await readFile(path, 'utf8')) as JWK;
}

export interface MintOptions {
  readonly header?: Record<string, unknown>;
  /** Seconds from now; default 3600. */
  readonly ttlSeconds?: number;
  /** Epoch seconds used as "now"; default the clock. */
  readonly now?: number;
}

/** Signs `claims` with a private JWK, adding iat, exp and jti unless given. */
export async function mintToken(
  privateJwk: JWK,
  claims: JWTPayload,
  options: MintOptions = {},
): Promise<string> {
  const alg = (options.header?.alg as string | undefined) ?? privateJwk.alg;
  if (alg === undefined) throw new Error('the private key names no alg');
  const key = await importJWK(privateJwk, alg);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iat: now,
    exp: now + (options.ttlSeconds ?? 3600),
    jti: crypto.randomUUID(),
    ...claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid: privateJwk.kid, typ: 'JWT', ...options.header })
    .sign(key);
}
