import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { KeyEntry } from './key-entry.js';

export interface KeyWindow {
  readonly notBefore?: string | undefined;
  readonly notAfter?: string | undefined;
}

export interface JwksLoadResult {
  readonly keys: KeyEntry[];
  readonly problems: string[];
  readonly warnings: string[];
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;
const MIN_RSA_BITS = 2048;

/** Reads a JWKS file; problems are prefixed with `path` so the operator sees where. */
export async function loadJwksFile(
  file: string,
  issuerId: string,
  windows: Readonly<Record<string, KeyWindow>>,
  path: string,
): Promise<JwksLoadResult> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})`;
    return { keys: [], problems: [`${path}: ${why} ${file}`], warnings: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { keys: [], problems: [`${path}: ${file} is not JSON (${(err as Error).message})`], warnings: [] };
  }
  return importJwks(doc, issuerId, windows, path);
}

export async function importJwks(
  doc: unknown,
  issuerId: string,
  windows: Readonly<Record<string, KeyWindow>>,
  path: string,
): Promise<JwksLoadResult> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const keys: KeyEntry[] = [];
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) return { keys, problems: [`${path}: not a JWK set (no "keys" array)`], warnings };
  const seenKids = new Set<string>();
  for (const [i, jwk] of list.entries()) {
    const where = `${path}: keys[${i}]`;
    const result = await importOne(jwk as JWK, issuerId, windows, where);
    if (typeof result === 'string') {
      problems.push(result);
      continue;
    }
    if (result === null) {
      warnings.push(`${where} (kid ${(jwk as JWK).kid ?? '?'}): not a signature key (use/key_ops), ignored`);
      continue;
    }
    if (seenKids.has(result.kid)) {
      problems.push(`${where}: kid ${result.kid} appears twice in the set`);
      continue;
    }
    seenKids.add(result.kid);
    keys.push(result);
  }
  for (const kid of Object.keys(windows)) {
    if (!seenKids.has(kid)) warnings.push(`${path}: keyValidity names kid ${kid}, which is not in the set`);
  }
  return { keys, problems, warnings };
}

async function importOne(
  jwk: JWK,
  issuerId: string,
  windows: Readonly<Record<string, KeyWindow>>,
  where: string,
): Promise<KeyEntry | string | null> {
  if (jwk === null || typeof jwk !== 'object') return `${where}: not a JSON object`;
  const kty: string | undefined = jwk.kty;
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') {
    return `${where}: kty ${String(kty)} is not a public signature key type (RSA, EC, OKP)`;
  }
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) return `${where}: holds private key material ("${member}"); publish public keys only`;
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') return null;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return null;
  if ('x5u' in jwk || 'jku' in jwk) return `${where}: remote key references (x5u) are not followed`;
  let keyObject: ReturnType<typeof createPublicKey>;
  try {
    keyObject = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch (err) {
    return `${where}: not a valid ${jwk.kty} key (${(err as Error).message})`;
  }
  const details = keyObject.asymmetricKeyDetails;
  if (jwk.kty === 'RSA' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    return `${where}: RSA key of ${details?.modulusLength} bits is too weak (minimum ${MIN_RSA_BITS})`;
  }
  const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
  const kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : thumbprint;
  const window = windows[kid];
  return {
    kid,
    issuerId,
    keyObject,
    kty,
    crv: typeof jwk.crv === 'string' ? jwk.crv : undefined,
    alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
    thumbprint,
    notBefore: window?.notBefore !== undefined ? Date.parse(window.notBefore) : undefined,
    notAfter: window?.notAfter !== undefined ? Date.parse(window.notAfter) : undefined,
  };
}
