import type { Algorithm, IssuerConfig } from '../config/schema.js';
import { type IssuerTemplate, tenantOf } from './issuer-matcher.js';
import type { KeyEntry } from './key-entry.js';
import type { KeyTrustPolicy } from './key-trust.js';

/** The keys of one issuer. Replaced whole (never edited) so a request sees one consistent set. */
export interface KeySet {
  readonly byKid: ReadonlyMap<string, KeyEntry>;
  readonly all: readonly KeyEntry[];
  /** False until a remote set has been fetched once: its tokens get keys_unavailable, not unknown_key. */
  readonly loaded: boolean;
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
  /** `required`: every token must be sender-constrained; absent is `optional`. */
  readonly boundTokens?: IssuerConfig['boundTokens'] | undefined;
  /** Set for a multi-tenant issuer (`iss` is its template); the tenant in `iss` must equal `tid`. */
  readonly template?: IssuerTemplate | undefined;
  /** Quarantine of new keys and pinning (`keys.newKeys`, `keys.pin`); undefined: trust what the set serves. */
  readonly trust?: KeyTrustPolicy | undefined;
  keys: KeySet;
}

/**
 * Issuers by `iss` and by id, plus an index of every kid to the issuers that own it. The index
 * is never used to verify a token: only to name a cross-issuer key as the incident it is.
 */
export class IssuerRegistry {
  /** Exact issuers only: a template string is never an `iss` a token may name. */
  readonly byIss: ReadonlyMap<string, CompiledIssuer>;
  readonly byId: ReadonlyMap<string, CompiledIssuer>;
  /** Multi-tenant issuers, tried only when no exact issuer matches. */
  readonly templated: readonly CompiledIssuer[];
  private kidOwners = new Map<string, KeyEntry[]>();
  private materialOwners = new Map<string, string>();

  constructor(issuers: readonly CompiledIssuer[]) {
    this.byIss = new Map(issuers.filter((i) => i.template === undefined).map((i) => [i.iss, i]));
    this.byId = new Map(issuers.map((i) => [i.id, i]));
    this.templated = issuers.filter((i) => i.template !== undefined);
    this.reindex();
  }

  /** The issuer a token's `iss` names: one Map lookup for exact issuers, then the templates. */
  issuerFor(iss: string): CompiledIssuer | undefined {
    const exact = this.byIss.get(iss);
    if (exact !== undefined || this.templated.length === 0) return exact;
    for (const issuer of this.templated) {
      if (tenantOf(issuer.template!, iss) !== undefined) return issuer;
    }
    return undefined;
  }

  /** The issuer other than `issuerId` whose current set holds this key material, if any. */
  otherOwnerOf(thumbprint: string, issuerId: string): string | undefined {
    const owner = this.materialOwners.get(thumbprint);
    return owner === issuerId ? undefined : owner;
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
    const material = new Map<string, string>();
    for (const issuer of this.byId.values()) {
      for (const key of issuer.keys.all) {
        const list = owners.get(key.kid);
        if (list === undefined) owners.set(key.kid, [key]);
        else list.push(key);
        material.set(key.thumbprint, issuer.id);
      }
    }
    this.kidOwners = owners;
    this.materialOwners = material;
  }
}

export function keySetOf(keys: readonly KeyEntry[]): KeySet {
  return { byKid: new Map(keys.map((k) => [k.kid, k])), all: keys, loaded: true };
}

/** The set of a remote source that has not answered yet. */
export const UNLOADED_KEY_SET: KeySet = { byKid: new Map(), all: [], loaded: false };
