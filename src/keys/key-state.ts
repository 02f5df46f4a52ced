import { type KeyEntry, keyActiveAt } from './key-entry.js';
import { type KeyTrustPolicy, trustVerdict } from './key-trust.js';
import type { TrustIndex } from './trust-index.js';

/** What an operator needs to know about a key at a glance; bounded, so usable as a metric label. */
export type KeyState = 'active' | 'inactive' | 'revoked' | 'quarantined' | 'retiring';
export const KEY_STATES: readonly KeyState[] = ['active', 'inactive', 'revoked', 'quarantined', 'retiring'];

/** What key-state needs of the revocations: the revocation layer sits above keys. */
export interface KeyRevocations {
  isKeyRevoked(issuerId: string, kid: string): boolean;
}

/** The trust decisions and the issuer's policy: a key not trusted (trustVerdict) is quarantined. */
export interface KeyTrustView {
  readonly index: TrustIndex;
  readonly policy: KeyTrustPolicy | undefined;
}

/** Revocation first: a revoked key is refused whatever its window or trust says. */
export function keyStateOf(
  key: KeyEntry,
  revocations: KeyRevocations,
  nowMs: number,
  trust?: KeyTrustView,
): KeyState {
  if (revocations.isKeyRevoked(key.issuerId, key.kid)) return 'revoked';
  if (key.alsoClaimedBy !== undefined) return 'quarantined';
  if (trust !== undefined && trustVerdict(trust.policy, trust.index, key, nowMs) !== 'trusted') {
    return 'quarantined';
  }
  if (key.removedAfter !== undefined) return key.removedAfter > nowMs ? 'retiring' : 'inactive';
  return keyActiveAt(key, nowMs) ? 'active' : 'inactive';
}
