import { constants, verify } from 'node:crypto';
import type { KeyEntry } from '../keys/key-entry.js';

interface AlgSpec {
  readonly hash: string | null;
  readonly padding?: number;
  readonly saltLength?: number;
  /** JWS ECDSA signatures are r||s of fixed length (RFC 7518 3.4), not DER. */
  readonly ecdsaLength?: number;
}

const SPECS: Readonly<Record<string, AlgSpec>> = {
  RS256: { hash: 'sha256', padding: constants.RSA_PKCS1_PADDING },
  RS384: { hash: 'sha384', padding: constants.RSA_PKCS1_PADDING },
  RS512: { hash: 'sha512', padding: constants.RSA_PKCS1_PADDING },
  PS256: { hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  PS384: { hash: 'sha384', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
  PS512: { hash: 'sha512', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 },
  ES256: { hash: 'sha256', ecdsaLength: 64 },
  ES384: { hash: 'sha384', ecdsaLength: 96 },
  ES512: { hash: 'sha512', ecdsaLength: 132 },
  EdDSA: { hash: null },
};

// The signing input's bytes are written here instead of into a new Buffer per call: verify()
// without a callback is synchronous and is done with them when it returns. Sized for the
// largest token (verification.maxTokenBytes ≤ 64 KiB); anything longer gets its own Buffer.
const scratch = Buffer.allocUnsafe(64 * 1024);

function bytesOf(signingInput: string): Buffer {
  if (signingInput.length > scratch.length) return Buffer.from(signingInput, 'latin1');
  return scratch.subarray(0, scratch.write(signingInput, 0, 'latin1'));
}

/**
 * Synchronous node:crypto verification with an imported KeyObject: about three times the
 * throughput of an awaited WebCrypto verify, whose job hops to the libuv pool and back.
 * The caller has already checked that `key` supports `alg`; a differential test holds this
 * function to jose's compactVerify on a large corpus.
 */
export function verifySignature(
  alg: string,
  key: KeyEntry,
  signingInput: string,
  signature: Buffer,
): boolean {
  const spec = SPECS[alg];
  if (spec === undefined || signature.length === 0) return false;
  if (spec.ecdsaLength !== undefined && signature.length !== spec.ecdsaLength) return false;
  const data = bytesOf(signingInput);
  try {
    // PKCS#1 v1.5 is the default padding of an RSA KeyObject: passing the key itself skips
    // the options object that node:crypto would otherwise unpack on every call.
    if (spec.padding === constants.RSA_PKCS1_PADDING)
      return verify(spec.hash, data, key.keyObject, signature);
    if (spec.padding !== undefined) {
      return verify(
        spec.hash,
        data,
        { key: key.keyObject, padding: spec.padding, saltLength: spec.saltLength },
        signature,
      );
    }
    if (spec.ecdsaLength !== undefined) {
      return verify(spec.hash, data, { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return verify(null, data, key.keyObject, signature);
  } catch {
    return false;
  }
}
