import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** How long the condition may take before the test fails; 3 s unless told. */
  readonly timeoutMs?: number;
  /** The pause between two probes; 2 ms unless told. */
  readonly intervalMs?: number;
  /** What is waited for, as the failure names it: `waited 3000 ms for <message>`; a function is read at the end. */
  readonly message?: string | (() => string);
}

/**
 * Probes `predicate` until it holds and returns the milliseconds that took; throws once
 * `timeoutMs` have passed. For state another socket, process or timer changes: a poll ends
 * as soon as the state is there, where a fixed sleep always costs its worst case.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 3000, intervalMs = 2, message = 'the condition' }: PollOptions = {},
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await predicate()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) {
      throw new Error(`waited ${timeoutMs} ms for ${typeof message === 'function' ? message() : message}`);
    }
    await sleep(intervalMs);
  }
}
