import type { RevocationRecord } from './revocation-record.js';

const SEP = '\u0000';

/**
 * The in-memory copy of every revocation that the hot path consults: a few Map lookups, no I/O.
 * It is rebuilt or patched from the store; the store, not the mirror, is the truth. A patch
 * costs one lookup, not a rebuild: with many live token revocations, every change reaches
 * every instance, and an O(n) rebuild each time would stall their event loops.
 */
export class RevocationMirror {
  private records = new Map<string, RevocationRecord>();
  private keys = new Set<string>();
  private tokens = new Map<string, number | undefined>();
  private subjects = new Map<string, number>();
  private issuers = new Map<string, number>();
  private sessions = new Map<string, number | undefined>();
  private readonly listeners: (() => void)[] = [];

  /**
   * Calls `listener` after every change (a record applied, removed or expired, a reload): for
   * what must react to a revocation at once rather than at the next request (open tunnels).
   * Returns the unsubscribe.
   */
  onChange(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at !== -1) this.listeners.splice(at, 1);
    };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

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
    this.changed();
  }

  apply(record: RevocationRecord): void {
    this.records.set(record.id, record);
    this.index(record);
    this.changed();
  }

  remove(id: string): boolean {
    const record = this.records.get(id);
    if (record === undefined) return false;
    this.records.delete(id);
    this.unindex(record);
    this.changed();
    return true;
  }

  /** Drops token revocations whose token has expired anyway; returns their ids. */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const record of this.records.values()) {
      if (record.expiresAt !== undefined && record.expiresAt <= nowMs) gone.push(record.id);
    }
    for (const id of gone) this.remove(id);
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

  /** Whether tokens carrying this `sid` are refused (a session revoked by its identity provider). */
  isSessionRevoked(issuerId: string, sid: string, nowMs: number): boolean {
    if (this.sessions.size === 0) return false;
    const key = issuerId + SEP + sid;
    if (!this.sessions.has(key)) return false;
    const expiresAt = this.sessions.get(key);
    return expiresAt === undefined || expiresAt > nowMs;
  }

  private rebuild(): void {
    this.keys = new Set();
    this.tokens = new Map();
    this.subjects = new Map();
    this.issuers = new Map();
    this.sessions = new Map();
    for (const record of this.records.values()) this.index(record);
  }

  private index(r: RevocationRecord): void {
    switch (r.kind) {
      case 'key':
        this.keys.add(r.issuer + SEP + r.kid);
        break;
      case 'token':
        this.tokens.set(r.issuer + SEP + r.jti, r.expiresAt);
        break;
      case 'subject': {
        const key = r.issuer + SEP + r.sub;
        this.subjects.set(key, Math.max(this.subjects.get(key) ?? 0, Date.parse(r.before) / 1000));
        break;
      }
      case 'issuer':
        this.issuers.set(r.issuer, Math.max(this.issuers.get(r.issuer) ?? 0, Date.parse(r.before) / 1000));
        break;
      case 'session':
        this.sessions.set(r.issuer + SEP + r.sid, r.expiresAt);
        break;
    }
  }

  /** Ids follow what is revoked, so a key or token entry belongs to exactly one record. */
  private unindex(r: RevocationRecord): void {
    if (r.kind === 'key') this.keys.delete(r.issuer + SEP + r.kid);
    else if (r.kind === 'token') this.tokens.delete(r.issuer + SEP + r.jti);
    else if (r.kind === 'session') this.sessions.delete(r.issuer + SEP + r.sid);
    // Several records may set one subject's or issuer's instant; lifting one is rare: recompute.
    else this.rebuild();
  }
}
