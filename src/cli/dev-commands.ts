import type { JWTPayload } from 'jose';
import { mintToken, readPrivateKey, writeDevKey } from '../demo/dev-keys.js';
import { CliError, required } from './cli-error.js';

/** `keys generate`: development only; the private half goes next to the set, in a folder git ignores. */
export async function keysGenerateCommand(
  values: Record<string, unknown>,
  out: (line: string) => void,
): Promise<void> {
  const issuer = required(values, 'issuer');
  const alg = (values.alg as string | undefined) ?? 'ES256';
  const dir = (values.out as string | undefined) ?? 'config/keys';
  const kid = (values.kid as string | undefined) ?? `${issuer}-${new Date().toISOString().slice(0, 10)}`;
  const written = await writeDevKey(dir, issuer, alg, kid);
  out(`public key set: ${written.jwksPath}`);
  out(`private key:    ${written.privateKeyPath}  (development only; never commit it)`);
}

/** `token mint`: a signed token for trying the gateway; claims from flags, `--claim k=v` for more. */
export async function tokenMintCommand(
  values: Record<string, unknown>,
  out: (line: string) => void,
): Promise<void> {
  const key = await readPrivateKey(required(values, 'key'));
  const claims: JWTPayload = { iss: required(values, 'iss'), sub: required(values, 'sub') };
  if (typeof values.aud === 'string') claims.aud = values.aud;
  if (typeof values.scp === 'string') claims.scp = values.scp;
  if (typeof values.tid === 'string') claims.tid = values.tid;
  for (const pair of (values.claim as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--claim ${pair}: expected name=value`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    claims[pair.slice(0, eq)] = value;
  }
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isFinite(ttl)) throw new CliError('--ttl must be a number of seconds');
  out(await mintToken(key, claims, { ttlSeconds: ttl }));
}
