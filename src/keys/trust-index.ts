import type { TrustRecord } from './trust-record.js';

/**
 * The trust decisions as the request path reads them: per issuer, thumbprint to record; two Map
 * lookups, no I/O, nothing allocated. Kept equal to the store by the one MirrorSync (its
 * Mirror: apply, remove, replaceAll, expire).
 */
export class TrustIndex {
  private readonly byId = new Map<string, TrustRecord>();
  private readonly byIssuer = new Map<string, Map<string, TrustRecord>>();

  get size(): number {
    return this.byId.size;
  }

  /** The record for this key material of this issuer, if any. */
  get(issuerId: string, thumbprint: string): TrustRecord | undefined {
    if (this.byId.size === 0) return undefined;
    return this.byIssuer.get(issuerId)?.get(thumbprint);
  }

  getById(id: string): TrustRecord | undefined {
    return this.byId.get(id);
  }

  /** Whether any decision exists for the issuer: none means its next load is its first. */
  hasIssuer(issuerId: string): boolean {
    return (this.byIssuer.get(issuerId)?.size ?? 0) > 0;
  }

  /** The issuer's records, or every record. */
  list(issuerId?: string): TrustRecord[] {
    if (issuerId === undefined) return [...this.byId.values()];
    return [...(this.byIssuer.get(issuerId)?.values() ?? [])];
  }

  apply(record: TrustRecord): void {
    const old = this.byId.get(record.id);
    if (old !== undefined && old.issuer !== record.issuer) this.remove(old.id);
    this.byId.set(record.id, record);
    let issuer = this.byIssuer.get(record.issuer);
    if (issuer === undefined) {
      issuer = new Map();
      this.byIssuer.set(record.issuer, issuer);
    }
    issuer.set(record.thumbprint, record);
  }

  remove(id: string): TrustRecord | undefined {
    const record = this.byId.get(id);
    if (record === undefined) return undefined;
    this.byId.delete(id);
    const issuer = this.byIssuer.get(record.issuer);
    issuer?.delete(record.thumbprint);
    if (issuer?.size === 0) this.byIssuer.delete(record.issuer);
    return record;
  }

  replaceAll(records: Iterable<TrustRecord>): void {
    this.byId.clear();
    this.byIssuer.clear();
    for (const record of records) this.apply(record);
  }

  /** Decisions do not run out; a soak is read from `since` when a key is used. */
  expire(_now: number): string[] {
    return [];
  }
}
