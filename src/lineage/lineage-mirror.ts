import type { Mirror } from '../store/mirrored-store.js';
import type { LineageRecord } from './lineage-record.js';

const SEP = '\u0000';

/**
 * Every live lineage record on this instance, as the request path reads it: a minted token is
 * found by issuer and jti in two Map lookups that allocate nothing; and, for the operators, the
 * records that descend from a given ancestor. Patched per change, rebuilt only by a reload.
 */
export class LineageMirror implements Mirror<LineageRecord> {
  private byId = new Map<string, LineageRecord>();
  /** child issuer -> child jti -> record. */
  private byChild = new Map<string, Map<string, LineageRecord>>();
  /** `issuer \0 jti` of an ancestor -> ids of the records it appears in. */
  private byAncestor = new Map<string, Set<string>>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): LineageRecord | undefined {
    return this.byId.get(id);
  }

  /** The record of a minted token; undefined when this instance knows none. */
  find(issuerId: string, jti: string): LineageRecord | undefined {
    if (this.byId.size === 0) return undefined;
    return this.byChild.get(issuerId)?.get(jti);
  }

  /** Records with this token among their ancestors (any depth). */
  descendantsOf(issuerId: string, jti: string): LineageRecord[] {
    const ids = this.byAncestor.get(issuerId + SEP + jti);
    if (ids === undefined) return [];
    const out: LineageRecord[] = [];
    for (const id of ids) {
      const record = this.byId.get(id);
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  list(): LineageRecord[] {
    return [...this.byId.values()];
  }

  apply(record: LineageRecord): void {
    const existing = this.byId.get(record.id);
    if (existing !== undefined) this.unindex(existing);
    this.byId.set(record.id, record);
    let jtis = this.byChild.get(record.child.issuer);
    if (jtis === undefined) {
      jtis = new Map();
      this.byChild.set(record.child.issuer, jtis);
    }
    jtis.set(record.child.jti, record);
    for (const ancestor of record.ancestors) {
      if (ancestor.jti === undefined) continue;
      const key = ancestor.issuer + SEP + ancestor.jti;
      let ids = this.byAncestor.get(key);
      if (ids === undefined) {
        ids = new Set();
        this.byAncestor.set(key, ids);
      }
      ids.add(record.id);
    }
  }

  remove(id: string): LineageRecord | undefined {
    const record = this.byId.get(id);
    if (record === undefined) return undefined;
    this.byId.delete(id);
    this.unindex(record);
    return record;
  }

  replaceAll(records: Iterable<LineageRecord>): void {
    this.byId = new Map();
    this.byChild = new Map();
    this.byAncestor = new Map();
    for (const record of records) this.apply(record);
  }

  expire(now: number): string[] {
    const gone: string[] = [];
    for (const record of this.byId.values()) if (record.expiresAt <= now) gone.push(record.id);
    for (const id of gone) this.remove(id);
    return gone;
  }

  private unindex(record: LineageRecord): void {
    const jtis = this.byChild.get(record.child.issuer);
    if (jtis?.get(record.child.jti) === record) {
      jtis.delete(record.child.jti);
      if (jtis.size === 0) this.byChild.delete(record.child.issuer);
    }
    for (const ancestor of record.ancestors) {
      if (ancestor.jti === undefined) continue;
      const key = ancestor.issuer + SEP + ancestor.jti;
      const ids = this.byAncestor.get(key);
      ids?.delete(record.id);
      if (ids?.size === 0) this.byAncestor.delete(key);
    }
  }
}
