import { type IssuerRegistry, type KeySet, keySetOf } from './issuer-registry.js';

/** One key of a new set whose material another issuer's set already holds. */
export interface SharedMaterial {
  readonly kid: string;
  readonly thumbprint: string;
  readonly otherIssuer: string;
  readonly otherKid: string | undefined;
}

/**
 * Installs `set` as the issuer's keys, unless a key in it is also another issuer's: a key speaks
 * for one issuer only, so such a set is not installed and the previous sets stay in force.
 */
export function installKeySet(registry: IssuerRegistry, issuerId: string, set: KeySet): SharedMaterial[] {
  const shared: SharedMaterial[] = [];
  for (const key of set.all) {
    const otherIssuer = registry.otherOwnerOf(key.thumbprint, issuerId);
    if (otherIssuer === undefined) continue;
    const otherKey = registry.byId.get(otherIssuer)?.keys.all.find((k) => k.thumbprint === key.thumbprint);
    shared.push({ kid: key.kid, thumbprint: key.thumbprint, otherIssuer, otherKid: otherKey?.kid });
  }
  if (shared.length === 0) registry.replaceKeys(issuerId, set);
  return shared;
}

/**
 * Refuses shared material for every issuer that publishes it, from now until the configuration
 * is loaded again: nobody can tell which issuer really holds the private key. The sets in force
 * are re-issued with the key marked, which also drops its tokens from the verified-token cache.
 */
export function quarantineSharedMaterial(
  registry: IssuerRegistry,
  issuerId: string,
  shared: readonly SharedMaterial[],
  quarantine: Map<string, readonly string[]>,
): void {
  for (const s of shared) quarantine.set(s.thumbprint, [issuerId, s.otherIssuer]);
  for (const issuer of registry.byId.values()) {
    const keys = issuer.keys;
    // An unloaded set holds no keys, so only loaded sets are ever re-issued here.
    if (!keys.all.some((k) => k.alsoClaimedBy === undefined && quarantine.has(k.thumbprint))) continue;
    const marked = keys.all.map((k) => {
      const claimants = quarantine.get(k.thumbprint);
      if (claimants === undefined || k.alsoClaimedBy !== undefined) return k;
      return { ...k, alsoClaimedBy: claimants.find((id) => id !== issuer.id) ?? issuerId };
    });
    registry.replaceKeys(issuer.id, keySetOf(marked));
  }
}
