/** Audit lines a memory store keeps: the oldest go first. */
const MEMORY_AUDIT_CAP = 10_000;

/** A memory store's audit trail: every write with who and when, the last MEMORY_AUDIT_CAP kept. */
export class MemoryAuditTrail<E> {
  private readonly entries: E[] = [];

  note(entry: E): void {
    this.entries.push(entry);
    if (this.entries.length > MEMORY_AUDIT_CAP)
      this.entries.splice(0, this.entries.length - MEMORY_AUDIT_CAP);
  }

  /** The last `limit` entries, oldest first. */
  last(limit: number): E[] {
    return this.entries.slice(-limit);
  }
}
