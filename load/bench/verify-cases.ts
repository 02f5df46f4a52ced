import { type KeyObject, verify } from 'node:crypto';
import type { TokenVerifier } from '../../src/verify/verify-token.js';

/** One way of verifying tokens[from..to); returns how many verified (all must). */
export type VerifyCase = (tokens: readonly string[], from: number, to: number) => number;

export function gatewayCase(verifier: TokenVerifier): VerifyCase {
  return (tokens, from, to) => {
    let ok = 0;
    for (let i = from; i < to; i++) {
      verifier.verify(tokens[i]!);
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
  return (_tokens, from, to) => {
    let ok = 0;
    for (let i = from; i < to; i++) {
      const input = inputs[i]!;
      if (verify('sha256', input.data, options, input.signature)) ok += 1;
    }
    return ok;
  };
}

/** CPU time of this process (all threads: the collector's helpers count), in microseconds. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

// Tokens per slice: a few milliseconds of work, short enough that both sides of a pair see the
// same machine, long enough that the CPU clock's resolution does not matter.
const SLICE = 200;

/**
 * Verifications per CPU second of each case, measured side by side: the cases take turns on the
 * same slice of tokens (the order reversed on every other turn), until each has run for at least
 * `minSeconds` of CPU. CPU time, not wall time: on a shared machine the time other processes
 * take the core from this one would otherwise be charged to whichever case was running.
 */
export function timeSideBySide(
  cases: readonly VerifyCase[],
  tokens: readonly string[],
  minSeconds: number,
): number[] {
  const micros = cases.map(() => 0);
  const done = cases.map(() => 0);
  const order = cases.map((_, i) => i);
  for (let turn = 0, from = 0; Math.min(...micros) < minSeconds * 1e6 || turn === 0; turn++) {
    const to = Math.min(from + SLICE, tokens.length);
    for (const i of turn % 2 === 0 ? order : [...order].reverse()) {
      const start = cpuMicros();
      const ok = cases[i]!(tokens, from, to);
      micros[i]! += cpuMicros() - start;
      if (ok !== to - from) throw new Error(`only ${ok} of ${to - from} tokens verified`);
      done[i]! += ok;
    }
    from = to === tokens.length ? 0 : to;
  }
  return micros.map((us, i) => (done[i]! * 1e6) / us);
}
