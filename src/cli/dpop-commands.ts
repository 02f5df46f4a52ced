import { readPrivateKey } from '../demo/dev-keys.js';
import { jwkThumbprint, makeDpopProof } from '../demo/dpop-proof.js';
import { CliError, required } from './cli-error.js';

/**
 * `dpop proof`: a proof for one request, signed with a private JWK (development only). Prints
 * the proof alone, for `curl -H "DPoP: $(provgate dpop proof ...)"`.
 */
export async function dpopProofCommand(
  values: Record<string, unknown>,
  out: (line: string) => void,
): Promise<void> {
  const key = await readPrivateKey(required(values, 'key'));
  const url = required(values, 'url');
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url ${url}: not a URL`);
  }
  const accessToken = values['access-token'];
  const nonce = values.nonce;
  out(
    await makeDpopProof(key, {
      method: (values.method as string | undefined) ?? 'GET',
      url,
      accessToken: typeof accessToken === 'string' ? accessToken : undefined,
      nonce: typeof nonce === 'string' ? nonce : undefined,
    }),
  );
}

/** `dpop jkt`: the key's RFC 7638 thumbprint, for a token's `cnf.jkt` (`token mint --claim cnf=...`). */
export async function dpopJktCommand(
  values: Record<string, unknown>,
  out: (line: string) => void,
): Promise<void> {
  out(await jwkThumbprint(await readPrivateKey(required(values, 'key'))));
}
