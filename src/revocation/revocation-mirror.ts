import type { RevocationRecord } from './revocation-record.js';

const SEP = '\u0000';

/**
 * The in-memory copy of every revocation that the hot path consults: a few Map lookups, no I/O.
 * It is rebuilt or patched from the store; the store, not the mirror, is the truth.
 */
export class RevocationMirror {
  private records = new Map<string, RevocationRecord>();
  private keys = new Set<string>();
  private tokens = new Map<string, number | undefined>();
  private subjects = new Map<string, number>();
  private issuers = new Map<string, number>();

  get size(): number {
    return this.records.size;
  }

  list(): RevocationRecord[] {
    return [...this.records.values()];
  }

  get(id: string): RevocationRecord | undefined {
    return this.records.get(id);
  }

  replaceAll(records: Iterable<RevocationRecord>): void {
    this.records = new Map();
    for (const record of records) this.records.set(record.id, record);
    this.rebuild();
  }

  apply(record: RevocationRecord): void {
    this.records.set(record.id, record);
    this.rebuild();
  }

  remove(id: string): boolean {
    const removed = this.records.delete(id);
    if (removed) this.rebuild();
    return removed;
  }

  /** Drops token revocations whose token has expired anyway; returns their ids. */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const record of this.records.values()) {
      if (record.expiresAt !== undefined && record.expiresAt <= nowMs) gone.push(record.id);
    }
    for (const id of gone) this.records.delete(id);
    if (gone.length > 0) this.rebuild();
    return gone;
  }

  isKeyRevoked(issuerId: string, kid: string): boolean {
    return this.keys.size > 0 && this.keys.has(issuerId + SEP + kid);
  }

  isTokenRevoked(issuerId: string, jti: string, nowMs: number): boolean {
    if (this.tokens.size === 0) return false;
    const key = issuerId + SEP + jti;
    if (!this.tokens.has(key)) return false;
    const expiresAt = this.tokens.get(key);
    return expiresAt === undefined || expiresAt > nowMs;
  }

  /** Epoch seconds before which this subject's tokens are refused, if any. */
  subjectRevokedBefore(issuerId: string, sub: string): number | undefined {
    return this.subjects.size === 0 ? undefined : this.subjects.get(issuerId + SEP + sub);
  }

  issuerRevokedBefore(issuerId: string): number | undefined {
    return this.issuers.size === 0 ? undefined : this.issuers.get(issuerId);
  }

  private rebuild(): void {
    const keys = new Set<string>();
    const tokens = new Map<string, number | undefined>();
    const subjects = new Map<string, number>();
    const issuers = new Map<string, number>();
    for (const r of this.records.values()) {
      switch (r.kind) {
        case 'key':
          keys.add(r.issuer + SEP + r.kid);
          break;
        case 'token':
          tokens.set(r.issuer + SEP + r.jti, r.expiresAt);
          break;
        case 'subject': {
          const key = r.issuer + SEP + r.sub;
          subjects.set(key, Math.max(subjects.get(key) ?? 0, Date.parse(r.before) / 1000));
          break;
        }
        case 'issuer':
          issuers.set(r.issuer, Math.max(issuers.get(r.issuer) ?? 0, Date.parse(r.before) / 1000));
          break;
      }
    }
    this.keys = keys;
    this.tokens = tokens;
    this.subjects = subjects;
    this.issuers = issuers;
  }
}
