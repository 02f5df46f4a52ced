import { type KeyEntry, keyActiveAt } from '../keys/key-entry.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';

/** What an operator needs to know about a key at a glance; bounded, so usable as a metric label. */
export type KeyState = 'active' | 'inactive' | 'revoked' | 'quarantined' | 'retiring';
export const KEY_STATES: readonly KeyState[] = ['active', 'inactive', 'revoked', 'quarantined', 'retiring'];

/** Revocation first: a revoked key is refused whatever its window says. */
export function keyStateOf(key: KeyEntry, revocations: RevocationMirror, nowMs: number): KeyState {
  if (revocations.isKeyRevoked(key.issuerId, key.kid)) return 'revoked';
  if (key.alsoClaimedBy !== undefined) return 'quarantined';
  if (key.removedAfter !== undefined) return key.removedAfter > nowMs ? 'retiring' : 'inactive';
  return keyActiveAt(key, nowMs) ? 'active' : 'inactive';
}
