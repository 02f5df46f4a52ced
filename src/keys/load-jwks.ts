import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { KeyEntry } from './key-entry.js';
import { certificateWindow, intersectWindows } from './x5c-validity.js';

export interface KeyWindow {
  readonly notBefore?: string | undefined;
  readonly notAfter?: string | undefined;
}

export interface JwksLoadResult {
  readonly keys: KeyEntry[];
  /** The set as a whole cannot be used (not a set, private material, a kid twice). */
  readonly problems: string[];
  /** Single keys refused (weak, invalid, wrong certificate); the rest of the set is usable. */
  readonly rejected: string[];
  readonly warnings: string[];
}

/** Which issuer a set is loaded for, so that the JWK `issuer` member (as Microsoft publishes it) binds. */
export interface KeyBinding {
  /** The configured `issuer`; for a multi-tenant issuer, its template. */
  readonly issuer: string;
  /** One set published for several issuers: only keys whose `issuer` names this one are used. */
  readonly shared: boolean;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;
const MIN_RSA_BITS = 2048;

/** Reads a JWKS file; problems are prefixed with `path` so the operator sees where. */
export async function loadJwksFile(
  file: string,
  issuerId: string,
  windows: Readonly<Record<string, KeyWindow>>,
  path: string,
  binding?: KeyBinding,
): Promise<JwksLoadResult> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})`;
    return { keys: [], problems: [`${path}: ${why} ${file}`], rejected: [], warnings: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      keys: [],
      problems: [`${path}: ${file} is not JSON (${(err as Error).message})`],
      rejected: [],
      warnings: [],
    };
  }
  return importJwks(doc, issuerId, windows, path, binding);
}

export async function importJwks(
  doc: unknown,
  issuerId: string,
  windows: Readonly<Record<string, KeyWindow>>,
  path: string,
  binding?: KeyBinding,
): Promise<JwksLoadResult> {
  const problems: string[] = [];
  const rejected: string[] = [];
  const warnings: string[] = [];
  const keys: KeyEntry[] = [];
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) {
    return { keys, problems: [`${path}: not a JWK set (no "keys" array)`], rejected, warnings };
  }
  const seenKids = new Set<string>();
  for (const [i, jwk] of list.entries()) {
    const where = `${path}: keys[${i}]`;
    // A publisher that leaks one private key cannot be trusted for any of its keys.
    const leaked = privateMember(jwk);
    if (leaked !== undefined) {
      problems.push(`${where}: holds private key material ("${leaked}"); publish public keys only`);
      continue;
    }
    if (binding !== undefined && !boundToIssuer(jwk as JWK, binding, where, warnings)) continue;
    const result = await importOne(jwk as JWK, issuerId, windows, where);
    if (typeof result === 'string') {
      rejected.push(result);
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
  return { keys, problems, rejected, warnings };
}

function privateMember(jwk: unknown): string | undefined {
  if (jwk === null || typeof jwk !== 'object') return undefined;
  return PRIVATE_MEMBERS.find((member) => member in jwk);
}

/**
 * The JWK `issuer` member names the one issuer a key signs for. In a shared set it is required
 * (fail closed: a key without it is never used); in any set a key naming another issuer is not ours.
 */
function boundToIssuer(jwk: JWK, binding: KeyBinding, where: string, warnings: string[]): boolean {
  const named: unknown = (jwk as { issuer?: unknown } | null)?.issuer;
  const kid = jwk?.kid ?? '?';
  if (named === undefined) {
    if (!binding.shared) return true;
    warnings.push(`${where} (kid ${kid}): shared key set, but the key names no issuer; never used`);
    return false;
  }
  if (named === binding.issuer) return true;
  // In a shared set the other issuers' keys are expected; elsewhere it is worth a line.
  if (!binding.shared)
    warnings.push(`${where} (kid ${kid}): names issuer ${String(named)}, not ours; ignored`);
  return false;
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
  let validity = {
    notBefore: window?.notBefore !== undefined ? Date.parse(window.notBefore) : undefined,
    notAfter: window?.notAfter !== undefined ? Date.parse(window.notAfter) : undefined,
  };
  let x5cSubject: string | undefined;
  if (jwk.x5c !== undefined) {
    const certificate = certificateWindow(jwk.x5c, keyObject);
    if (typeof certificate === 'string') return `${where} (kid ${kid}): ${certificate}`;
    validity = intersectWindows(validity, certificate);
    x5cSubject = certificate.subject;
  }
  return {
    kid,
    issuerId,
    keyObject,
    kty,
    crv: typeof jwk.crv === 'string' ? jwk.crv : undefined,
    alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
    thumbprint,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    removedAfter: undefined,
    alsoClaimedBy: undefined,
    x5cSubject,
  };
}
