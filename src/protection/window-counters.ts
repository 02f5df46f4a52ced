import { RecentMap } from './recent-map.js';
import type { CountDelta, SharedTallies } from './shared-tallies.js';

// Memory stays bounded when an attacker sprays addresses: the least recently used key is
// forgotten (it starts again at zero, which can only let traffic through, never block it).
const MAX_KEYS = 100_000;
const MAX_LEFTOVERS = 10_000;

/** One key's count in the current fixed window, as this instance knows it. */
export class WindowCounter {
  window = 0;
  /** The cluster-wide total at the last batch (this instance's sent counts included). */
  shared = 0;
  /** Counted here, not yet sent. */
  pending = 0;
  /** Sent, no answer yet. */
  inFlight = 0;
  queued = false;
  /** Set once a rule has acted on this window, so it acts (and logs) once. */
  flagged = false;

  constructor(readonly key: string) {}

  count(): number {
    return this.shared + this.inFlight + this.pending;
  }
}

interface Sent {
  readonly counter: WindowCounter;
  readonly window: number;
  readonly delta: number;
}

/**
 * Fixed-window counters (windows aligned to the epoch, so every instance agrees on them),
 * counted in memory on the request path and added to the shared store in batches. What one
 * instance has not heard from the others yet is the overshoot documented in rate-limits.ts.
 */
export class WindowCounters {
  private readonly counters = new RecentMap<string, WindowCounter>(MAX_KEYS);
  private queue: WindowCounter[] = [];
  private leftovers: CountDelta[] = [];

  constructor(
    /** Names this family of counters in the store, e.g. `rl:mail-per-subject`. */
    private readonly name: string,
    readonly windowMs: number,
    private readonly shared: SharedTallies | undefined,
    /** Called after a batch with every counter whose cluster-wide total was refreshed. */
    private readonly onShared?: (counter: WindowCounter) => void,
  ) {}

  /** The counter of `key` in the window holding `now`; a counter from a past window starts over. */
  at(key: string, now: number): WindowCounter {
    const window = Math.floor(now / this.windowMs);
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = new WindowCounter(key);
      counter.window = window;
      this.counters.set(key, counter);
    } else if (counter.window !== window) {
      this.roll(counter, window);
    }
    return counter;
  }

  add(counter: WindowCounter, n = 1): void {
    counter.pending += n;
    if (this.shared !== undefined && !counter.queued) {
      counter.queued = true;
      this.queue.push(counter);
    }
  }

  /** Milliseconds until the counter's window ends. */
  msLeft(counter: WindowCounter, now: number): number {
    return (counter.window + 1) * this.windowMs - now;
  }

  /** Sends what was counted since the last batch and takes back the cluster-wide totals. */
  async flush(): Promise<void> {
    if (this.shared === undefined) return;
    const sent: Sent[] = [];
    for (const counter of this.queue) {
      counter.queued = false;
      if (counter.pending === 0) continue;
      sent.push({ counter, window: counter.window, delta: counter.pending });
      counter.inFlight += counter.pending;
      counter.pending = 0;
    }
    this.queue = [];
    const leftovers = this.leftovers;
    this.leftovers = [];
    if (sent.length === 0 && leftovers.length === 0) return;
    const batch = [...leftovers, ...sent.map((s) => this.delta(s.counter.key, s.window, s.delta))];
    let totals: number[];
    try {
      totals = await this.shared.addCounts(batch);
    } catch {
      // Store away: keep counting here and send it all with a later batch.
      for (const s of sent) {
        if (s.counter.window !== s.window) continue;
        s.counter.inFlight -= s.delta;
        this.add(s.counter, s.delta);
      }
      if (this.leftovers.length < MAX_LEFTOVERS) this.leftovers.push(...leftovers);
      return;
    }
    for (const [i, s] of sent.entries()) {
      const c = s.counter;
      if (c.window !== s.window) continue; // the window moved on while the batch was out
      c.inFlight -= s.delta;
      c.shared = Math.max(c.shared, totals[leftovers.length + i] ?? 0);
      this.onShared?.(c);
    }
  }

  private roll(counter: WindowCounter, window: number): void {
    // Counts of the old window still matter to instances whose clocks are a little behind.
    if (counter.pending > 0 && this.shared !== undefined && this.leftovers.length < MAX_LEFTOVERS) {
      this.leftovers.push(this.delta(counter.key, counter.window, counter.pending));
    }
    counter.window = window;
    counter.shared = 0;
    counter.pending = 0;
    counter.inFlight = 0;
    counter.flagged = false;
  }

  private delta(key: string, window: number, delta: number): CountDelta {
    // Two windows of life: the window itself and slack for instance clocks that disagree.
    return { key: `c:${this.name}:${window}:${key}`, delta, ttlMs: 2 * this.windowMs };
  }
}
