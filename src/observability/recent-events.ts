import type { Severity } from '../verify/reasons.js';
import type { SecurityEventRecord } from './security-events.js';

export interface StoredEvent {
  /** Increases by one per event in this process; a reader asks for what came after the last it saw. */
  readonly seq: number;
  /** Epoch ms. */
  readonly time: number;
  readonly event: SecurityEventRecord;
}

const RANK: Record<Severity, number> = { low: 0, high: 1, critical: 2 };

export function atLeast(severity: Severity, minimum: Severity | undefined): boolean {
  return minimum === undefined || RANK[severity] >= RANK[minimum];
}

export function isSeverity(value: unknown): value is Severity {
  return value === 'low' || value === 'high' || value === 'critical';
}

/**
 * The latest security events of this process in a fixed-size ring: what the dashboard shows and
 * what `provgate events tail` follows with the memory store. Old events are overwritten, so a
 * flood of refusals costs a bounded amount of memory.
 */
export class RecentEvents {
  private readonly ring: (StoredEvent | undefined)[];
  private seq = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<StoredEvent | undefined>(capacity);
  }

  get latestSeq(): number {
    return this.seq;
  }

  push(event: SecurityEventRecord, time: number): void {
    this.seq += 1;
    this.ring[this.seq % this.capacity] = { seq: this.seq, time, event };
  }

  /** Events after `afterSeq` (and at or after `sinceMs`), oldest first, at most `limit` of the newest. */
  query(options: {
    afterSeq?: number;
    sinceMs?: number;
    minSeverity?: Severity;
    limit?: number;
  }): StoredEvent[] {
    const after = Math.max(options.afterSeq ?? 0, this.seq - this.capacity);
    const out: StoredEvent[] = [];
    for (let s = after + 1; s <= this.seq; s++) {
      const stored = this.ring[s % this.capacity];
      if (stored === undefined || stored.seq !== s) continue;
      if (options.sinceMs !== undefined && stored.time < options.sinceMs) continue;
      if (!atLeast(stored.event.severity, options.minSeverity)) continue;
      out.push(stored);
    }
    const limit = options.limit ?? this.capacity;
    return out.length > limit ? out.slice(out.length - limit) : out;
  }
}
