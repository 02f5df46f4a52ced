import { EVENT_LABELS } from './event-types.js';
import type { SetErrorCode } from './set-error.js';

/** What became of a SET, as /metrics counts it. */
export type SetOutcomeLabel = 'applied' | 'duplicate' | 'ignored' | 'unavailable' | SetErrorCode;

/**
 * SETs by transmitter, event type and outcome. Every label value comes from the configuration or
 * a fixed list (a transmitter name or `unknown`, a known event name, `unknown` or `none`), so a
 * flood of junk cannot grow the series.
 */
export class SignalStats {
  private readonly counts = new Map<string, number>();
  private readonly known: ReadonlySet<string>;

  constructor(transmitters: Iterable<string>) {
    this.known = new Set(transmitters);
  }

  count(transmitter: string | undefined, event: string | undefined, outcome: SetOutcomeLabel): void {
    const t = transmitter !== undefined && this.known.has(transmitter) ? transmitter : 'unknown';
    const e = event === undefined ? 'none' : EVENT_LABELS.includes(event) ? event : 'unknown';
    const key = `${t}\u0000${e}\u0000${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  entries(): { transmitter: string; event: string; outcome: string; count: number }[] {
    return [...this.counts].map(([key, count]) => {
      const [transmitter, event, outcome] = key.split('\u0000') as [string, string, string];
      return { transmitter, event, outcome, count };
    });
  }
}
