import type { KeySetManager, KeySetStatus } from './key-set-manager.js';

export interface KeySetReadiness {
  /** Make the gateway not ready: a set that never loaded, or one with no key in force. */
  readonly problems: string[];
  /** Worth a look, still serving: a remote set whose refresh fails, served from the last good copy. */
  readonly degraded: string[];
}

export function keySetReadiness(status: readonly KeySetStatus[]): KeySetReadiness {
  const problems: string[] = [];
  const degraded: string[] = [];
  for (const s of status) {
    if (!s.loaded) {
      problems.push(`issuer ${s.issuerId}: key set never loaded (${s.lastError ?? 'no answer yet'})`);
    } else if (s.keyCount === 0) {
      problems.push(`issuer ${s.issuerId}: no usable keys`);
    } else if (s.lastError !== undefined) {
      degraded.push(
        `issuer ${s.issuerId}: key refresh failing (${s.lastError}); serving the set loaded at ${s.lastSuccessAt}`,
      );
    }
    if (s.quarantinedKids.length > 0) {
      degraded.push(
        `issuer ${s.issuerId}: keys ${s.quarantinedKids.join(', ')} refused (material published by two issuers)`,
      );
    }
  }
  return { problems, degraded };
}

/**
 * Lines for `provgate check-config`: where each issuer's keys come from and whether they could be
 * loaded just now. Call after compileConfig, e.g. `describeKeySets(compiled.keySets).forEach(out)`.
 */
export function describeKeySets(keySets: KeySetManager): string[] {
  const lines = ['key sets:'];
  for (const s of keySets.status()) {
    const state = !s.loaded
      ? `NOT LOADED (${s.lastError ?? 'no answer yet'}): this issuer's tokens get 503 keys_unavailable`
      : `${s.keyCount} key${s.keyCount === 1 ? '' : 's'} (${s.kids.join(', ')})`;
    lines.push(`  ${s.issuerId}  ${s.source}  ${state}`);
    if (s.remote && s.loaded && s.lastSuccessAt !== undefined) lines.push(`    fetched ${s.lastSuccessAt}`);
    if (s.loaded && s.lastError !== undefined) lines.push(`    last refresh failed: ${s.lastError}`);
    if (s.quarantinedKids.length > 0) {
      lines.push(`    REFUSED (material published by two issuers): ${s.quarantinedKids.join(', ')}`);
    }
  }
  return lines;
}

/** Whether every key set loaded; check-config may exit non-zero when not. */
export function allKeySetsLoaded(keySets: KeySetManager): boolean {
  return keySets.status().every((s) => s.loaded);
}
