import { createHash } from 'node:crypto';

/** How logs and counters name a token: first 16 hex of its SHA-256, never the token. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}
