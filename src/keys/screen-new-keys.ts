import type { KeyEntry } from './key-entry.js';
import type { KeyTrustPolicy } from './key-trust.js';
import type { TrustIndex } from './trust-index.js';
import { type TrustRecord, trustRecordId } from './trust-record.js';

/** What screenKeySet decided about a freshly loaded set. */
export interface KeyScreening {
  /** The set to install: every key but the overflow. */
  readonly keys: readonly KeyEntry[];
  /** Keys seen for the first time, quarantined from now on. */
  readonly appeared: readonly TrustRecord[];
  /** Keys of the issuer's first load, trusted (`trustOnFirstLoad`). */
  readonly trustedOnFirstLoad: readonly TrustRecord[];
  /** New keys past `maxQuarantined`: left out of the set, so their tokens are `unknown_key`. */
  readonly overflow: readonly KeyEntry[];
  /** Ids of quarantine records whose key the set no longer serves: forgotten, freeing the budget. */
  readonly unpublished: readonly string[];
}

/**
 * The quarantine list of one issuer: which keys of a freshly fetched set are new (no decision
 * names their material), and what becomes of them. At the issuer's first load (no decision at
 * all yet) they are trusted when `trustOnFirstLoad`; after it each new key is quarantined, at
 * most `maxQuarantined` at once, so that a provider serving a flood of kids cannot grow the
 * records or the set without bound: the rest are not installed. Pure; the caller installs the
 * keys and records the rest (KeyTrustHost).
 */
export function screenKeySet(
  issuerId: string,
  policy: KeyTrustPolicy | undefined,
  index: TrustIndex,
  keys: readonly KeyEntry[],
  nowMs: number,
): KeyScreening {
  if (policy === undefined || !policy.quarantineNewKeys) {
    return { keys, appeared: [], trustedOnFirstLoad: [], overflow: [], unpublished: [] };
  }
  const published = new Set(keys.map((k) => k.thumbprint));
  const unpublished: string[] = [];
  let quarantined = 0;
  for (const record of index.list(issuerId)) {
    if (record.state !== 'quarantined') continue;
    if (published.has(record.thumbprint)) quarantined += 1;
    else unpublished.push(record.id);
  }
  const firstLoad = !index.hasIssuer(issuerId);
  const appeared: TrustRecord[] = [];
  const trustedOnFirstLoad: TrustRecord[] = [];
  const overflow: KeyEntry[] = [];
  const decided = new Set<string>();
  const at = new Date(nowMs).toISOString();
  for (const key of keys) {
    // A key serving out its removal grace was screened when it was published.
    if (key.removedAfter !== undefined) continue;
    if (index.get(issuerId, key.thumbprint) !== undefined || decided.has(key.thumbprint)) continue;
    const record = (state: TrustRecord['state'], by: string): TrustRecord => ({
      id: trustRecordId(issuerId, key.thumbprint),
      issuer: issuerId,
      kid: key.kid,
      thumbprint: key.thumbprint,
      state,
      since: nowMs,
      at,
      by,
      alg: key.alg,
      x5cSubject: key.x5cSubject,
    });
    if (firstLoad && policy.trustOnFirstLoad) {
      trustedOnFirstLoad.push(record('trusted', 'first-load'));
    } else if (quarantined < policy.maxQuarantined) {
      appeared.push(record('quarantined', 'refresh'));
      quarantined += 1;
    } else {
      overflow.push(key);
      continue;
    }
    decided.add(key.thumbprint);
  }
  const kept = overflow.length === 0 ? keys : keys.filter((k) => !overflow.includes(k));
  return { keys: kept, appeared, trustedOnFirstLoad, overflow, unpublished };
}
