import { type KeyEntry, keyActiveAt } from './key-entry.js';

/** What an operator needs to know about a key at a glance; bounded, so usable as a metric label. */
export type KeyState = 'active' | 'inactive' | 'revoked' | 'quarantined' | 'retiring';
export const KEY_STATES: readonly KeyState[] = ['active', 'inactive', 'revoked', 'quarantined', 'retiring'];

/** What key-state needs of the revocations: the revocation layer sits above keys. */
export interface KeyRevocations {
  isKeyRevoked(issuerId: string, kid: string): boolean;
}

/** Revocation first: a revoked key is refused whatever its window says. */
export function keyStateOf(key: KeyEntry, revocations: KeyRevocations, nowMs: number): KeyState {
  if (revocations.isKeyRevoked(key.issuerId, key.kid)) return 'revoked';
  if (key.alsoClaimedBy !== undefined) return 'quarantined';
  if (key.removedAfter !== undefined) return key.removedAfter > nowMs ? 'retiring' : 'inactive';
  return keyActiveAt(key, nowMs) ? 'active' : 'inactive';
}
