import type { Algorithm, IssuerConfig } from '../config/schema.js';
import type { KeyEntry } from './key-entry.js';

/** The keys of one issuer. Replaced whole (never edited) so a request sees one consistent set. */
export interface KeySet {
  readonly byKid: ReadonlyMap<string, KeyEntry>;
  readonly all: readonly KeyEntry[];
}

export interface CompiledIssuer {
  readonly id: string;
  readonly iss: string;
  readonly role: IssuerConfig['role'];
  readonly algorithms: ReadonlySet<Algorithm>;
  readonly clockSkewSeconds: number;
  readonly maxTokenLifetimeSeconds: number | undefined;
  readonly requireTyp: string | undefined;
  readonly tenants: ReadonlySet<string> | undefined;
  keys: KeySet;
}

/**
 * Issuers by `iss` and by id, plus an index of every kid to the issuers that own it. The index
 * is never used to verify a token: only to name a cross-issuer key as the incident it is.
 */
export class IssuerRegistry {
  readonly byIss: ReadonlyMap<string, CompiledIssuer>;
  readonly byId: ReadonlyMap<string, CompiledIssuer>;
  private kidOwners = new Map<string, KeyEntry[]>();

  constructor(issuers: readonly CompiledIssuer[]) {
    this.byIss = new Map(issuers.map((i) => [i.iss, i]));
    this.byId = new Map(issuers.map((i) => [i.id, i]));
    this.reindex();
  }

  /** Keys with this kid in issuers other than `issuerId`. */
  foreignKeys(kid: string, issuerId: string): KeyEntry[] {
    return (this.kidOwners.get(kid) ?? []).filter((k) => k.issuerId !== issuerId);
  }

  replaceKeys(issuerId: string, keys: KeySet): void {
    const issuer = this.byId.get(issuerId);
    if (issuer === undefined) throw new Error(`unknown issuer ${issuerId}`);
    issuer.keys = keys;
    this.reindex();
  }

  private reindex(): void {
    const owners = new Map<string, KeyEntry[]>();
    for (const issuer of this.byId.values()) {
      for (const key of issuer.keys.all) {
        const list = owners.get(key.kid);
        if (list === undefined) owners.set(key.kid, [key]);
        else list.push(key);
      }
    }
    this.kidOwners = owners;
  }
}

export function keySetOf(keys: readonly KeyEntry[]): KeySet {
  return { byKid: new Map(keys.map((k) => [k.kid, k])), all: keys };
}
