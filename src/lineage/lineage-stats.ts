/** Counters behind /metrics, bumped where things happen and read at scrape time. */
export class LineageStats {
  /** Minted tokens recorded by this instance (stored, or held here while the store was away). */
  minted = 0;
  /** Mint answers refused, by the rule that refused them. */
  readonly mintRefusals = new Map<string, number>();
  /** Presented tokens refused (or, under monitor, that would have been), by rule. */
  readonly useRefusals = new Map<string, number>();
  /** Mirror misses, by what the store lookup found: found, unknown, cached (negative cache), unavailable. */
  readonly lookups = new Map<string, number>();

  mintRefused(rule: string): void {
    this.mintRefusals.set(rule, (this.mintRefusals.get(rule) ?? 0) + 1);
  }

  useRefused(rule: string): void {
    this.useRefusals.set(rule, (this.useRefusals.get(rule) ?? 0) + 1);
  }

  lookedUp(outcome: 'found' | 'unknown' | 'cached' | 'unavailable'): void {
    this.lookups.set(outcome, (this.lookups.get(outcome) ?? 0) + 1);
  }
}
