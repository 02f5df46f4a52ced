import { isDeepStrictEqual } from 'node:util';
import { installKeySet } from '../keys/install-key-set.js';
import type { CompiledConfig } from './compile-config.js';

/**
 * A remote key set that the new configuration could not fetch (the IdP is away) while the running
 * one holds it from the same source: keep serving the last good set, as a failed refresh does,
 * rather than let a reload turn that issuer's tokens into 503s. The new refresher keeps trying.
 * Returns the issuer ids carried over.
 */
export function carryOverKeySets(previous: CompiledConfig, next: CompiledConfig): string[] {
  const carried: string[] = [];
  for (const issuer of next.registry.byId.values()) {
    if (issuer.keys.loaded) continue;
    const before = previous.registry.byId.get(issuer.id);
    if (before === undefined || !before.keys.loaded) continue;
    const was = previous.config.issuers[issuer.id]!;
    const now = next.config.issuers[issuer.id]!;
    const sameSource =
      was.issuer === now.issuer &&
      isDeepStrictEqual(was.keys, now.keys) &&
      isDeepStrictEqual(was.keyValidity, now.keyValidity);
    // installKeySet refuses a set whose material another issuer of the new configuration holds.
    if (sameSource && installKeySet(next.registry, issuer.id, before.keys).length === 0) {
      carried.push(issuer.id);
    }
  }
  return carried;
}
