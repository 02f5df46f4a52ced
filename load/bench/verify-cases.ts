import { type KeyObject, verify } from 'node:crypto';
import type { TokenVerifier } from '../../src/verify/verify-token.js';

/** One way of verifying a list of tokens; returns how many verified (all must). */
export type VerifyCase = (tokens: readonly string[]) => number;

export function gatewayCase(verifier: TokenVerifier): VerifyCase {
  return (tokens) => {
    let ok = 0;
    for (const token of tokens) {
      verifier.verify(token);
      ok += 1;
    }
    return ok;
  };
}

interface RawInput {
  readonly data: Buffer;
  readonly signature: Buffer;
}

/** The token split and decoded beforehand: what remains is the signature check alone. */
export function rawInputs(tokens: readonly string[]): RawInput[] {
  return tokens.map((t) => {
    const dot = t.lastIndexOf('.');
    return { data: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') };
  });
}

/** node:crypto verify with an imported KeyObject, synchronous: the platform's limit. */
export function rawCase(key: KeyObject, alg: 'RS256' | 'ES256', inputs: readonly RawInput[]): VerifyCase {
  const options = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return (tokens) => {
    let ok = 0;
    for (let i = 0; i < tokens.length; i++) {
      const input = inputs[i]!;
      if (verify('sha256', input.data, options, input.signature)) ok += 1;
    }
    return ok;
  };
}

/** Verifications per second over whole passes through the list, for at least `minSeconds`. */
export function timeCase(run: VerifyCase, tokens: readonly string[], minSeconds: number): number {
  let done = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minSeconds) {
    const ok = run(tokens);
    if (ok !== tokens.length) throw new Error(`only ${ok} of ${tokens.length} tokens verified`);
    done += ok;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return done / elapsed;
}
