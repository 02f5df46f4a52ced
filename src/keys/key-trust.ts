import type { KeySourceConfig } from '../config/schema.js';
import type { KeyEntry } from './key-entry.js';
import type { TrustIndex } from './trust-index.js';

/**
 * What an issuer's `keys:` settings say about trusting the keys its set serves, compiled once.
 * Undefined for an issuer that trusts what its set serves (`newKeys: trust`, no `pin`): today's
 * behaviour, and nothing to check but an operator's explicit distrust.
 */
export interface KeyTrustPolicy {
  /** `quarantine`: a key first seen after the first load waits for a trust decision. */
  readonly quarantineNewKeys: boolean;
  /** A quarantined key is trusted by itself this long after it was first seen; undefined: never. */
  readonly quarantineMs: number | undefined;
  readonly trustOnFirstLoad: boolean;
  /** Quarantined keys the issuer may have published at once; new keys past it are not used. */
  readonly maxQuarantined: number;
  /** RFC 7638 thumbprints: only these keys are ever trusted, whatever the set serves. */
  readonly pin: ReadonlySet<string> | undefined;
}

export function keyTrustPolicyOf(keys: KeySourceConfig): KeyTrustPolicy | undefined {
  const quarantineNewKeys = keys.newKeys === 'quarantine';
  if (!quarantineNewKeys && keys.pin === undefined) return undefined;
  return {
    quarantineNewKeys,
    quarantineMs: keys.quarantineSeconds === undefined ? undefined : keys.quarantineSeconds * 1000,
    trustOnFirstLoad: keys.trustOnFirstLoad,
    maxQuarantined: keys.maxQuarantined,
    pin: keys.pin === undefined ? undefined : new Set(keys.pin),
  };
}

/** `not_pinned` and `quarantined` / `distrusted` are refusals; see trustVerdict. */
export type TrustVerdict = 'trusted' | 'quarantined' | 'distrusted' | 'not_pinned';

/**
 * Whether a key of the issuer's set may verify tokens now. An operator's distrust of this very
 * key material refuses it whatever else holds; then a pin decides (a pinned key needs no other
 * decision, an unpinned one is never trusted, whoever trusted it); then an operator's trust;
 * then, for an issuer that quarantines new keys, the key's quarantine record and its soak time. A key with no record at all under quarantine is quarantined: every
 * key of a screened set has one (screenKeySet), so none is a gap to fail open through.
 */
export function trustVerdict(
  policy: KeyTrustPolicy | undefined,
  index: TrustIndex,
  key: KeyEntry,
  nowMs: number,
): TrustVerdict {
  const record = index.get(key.issuerId, key.thumbprint);
  if (record?.state === 'distrusted') return 'distrusted';
  if (policy?.pin !== undefined) return policy.pin.has(key.thumbprint) ? 'trusted' : 'not_pinned';
  if (record?.state === 'trusted') return 'trusted';
  if (policy === undefined || !policy.quarantineNewKeys) return 'trusted';
  if (record === undefined) return 'quarantined';
  return policy.quarantineMs !== undefined && nowMs >= record.since + policy.quarantineMs
    ? 'trusted'
    : 'quarantined';
}
