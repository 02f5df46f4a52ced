import { type KeySet, keySetOf } from './issuer-registry.js';
import type { KeyEntry } from './key-entry.js';
import { importJwks, type KeyBinding, type KeyWindow } from './load-jwks.js';

/** What a fetched key set is loaded for. */
export interface KeySetContext {
  readonly issuerId: string;
  readonly binding: KeyBinding;
  readonly windows: Readonly<Record<string, KeyWindow>>;
  /** Config path for messages, e.g. `issuers.enterprise.keys.url`. */
  readonly path: string;
  readonly removedKeyGraceMs: number;
  /** Key material refused for every issuer (published by two); thumbprint to those issuers. */
  readonly quarantine: ReadonlyMap<string, readonly string[]>;
}

export interface BuiltKeySet {
  readonly set: KeySet;
  readonly warnings: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A published set the gateway will not use; the last good set stays in force. */
export class UnusableKeySetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableKeySetError';
  }
}

/**
 * Turns a freshly fetched JWKS into the issuer's next key set. An unchanged key keeps its
 * KeyEntry object, so the verified-token cache (which compares entries by identity) survives a
 * refresh; a key that left the set serves out its grace and then is gone (unknown_key).
 */
export async function buildKeySet(
  doc: unknown,
  context: KeySetContext,
  previous: KeySet,
  nowMs: number,
): Promise<BuiltKeySet> {
  const { issuerId, windows, path, binding } = context;
  const imported = await importJwks(doc, issuerId, windows, path, binding);
  if (imported.problems.length > 0) throw new UnusableKeySetError(imported.problems.join('; '));
  if (imported.keys.length === 0) {
    const why = [...imported.rejected, ...imported.warnings].join('; ');
    throw new UnusableKeySetError(`${path}: no usable key in the published set${why ? ` (${why})` : ''}`);
  }

  const entries: KeyEntry[] = [];
  const added: string[] = [];
  for (const fresh of imported.keys) {
    const claimants = context.quarantine.get(fresh.thumbprint);
    const marked =
      claimants === undefined
        ? fresh
        : { ...fresh, alsoClaimedBy: claimants.find((id) => id !== issuerId) ?? issuerId };
    const before = previous.byKid.get(marked.kid);
    if (before !== undefined && sameKey(before, marked)) entries.push(before);
    else {
      entries.push(marked);
      if (before === undefined || before.thumbprint !== marked.thumbprint) added.push(marked.kid);
    }
  }

  const removed: string[] = [];
  const published = new Set(entries.map((k) => k.kid));
  for (const old of previous.all) {
    if (published.has(old.kid)) continue;
    if (old.removedAfter === undefined) removed.push(old.kid);
    const removedAfter = old.removedAfter ?? nowMs + context.removedKeyGraceMs;
    if (removedAfter > nowMs) {
      entries.push(old.removedAfter === undefined ? { ...old, removedAfter } : old);
    }
  }
  return {
    set: keySetOf(entries),
    warnings: [...imported.rejected, ...imported.warnings],
    added,
    removed,
  };
}

function sameKey(a: KeyEntry, b: KeyEntry): boolean {
  return (
    a.thumbprint === b.thumbprint &&
    a.alg === b.alg &&
    a.notBefore === b.notBefore &&
    a.notAfter === b.notAfter &&
    a.removedAfter === b.removedAfter &&
    a.alsoClaimedBy === b.alsoClaimedBy
  );
}
