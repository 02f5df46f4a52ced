import { RecentMap } from '../protection/recent-map.js';
import { WindowCounters } from '../protection/window-counters.js';

export interface FailedAuthSpec {
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly blockSeconds: number;
}

// An attacker spraying addresses costs bounded memory; a forgotten address starts again at zero.
const MAX_BLOCKED = 10_000;

/**
 * Failed admin authentications per client address, in the fixed windows of the protection rules
 * (window-counters.ts, here without a shared store: the admin listener of each instance guards
 * itself). More than `maxFailures` within a window blocks the address for `blockSeconds`: every
 * request it makes to a guarded endpoint is 403 blocked_source, with a valid credential or not,
 * so guessing the break-glass token or probing for a forged operator token is slow everywhere.
 */
export class FailedAuthLimiter {
  private readonly counters: WindowCounters;
  private readonly blockedUntil = new RecentMap<string, number>(MAX_BLOCKED);

  constructor(readonly spec: FailedAuthSpec) {
    this.counters = new WindowCounters('admin-auth', spec.windowSeconds * 1000, undefined);
  }

  /** Epoch ms until which `address` is blocked, or undefined. */
  blocked(address: string, now: number): number | undefined {
    const until = this.blockedUntil.peek(address);
    return until !== undefined && until > now ? until : undefined;
  }

  /** Counts a failure; returns the block's end when this failure starts one. */
  failed(address: string, now: number): number | undefined {
    const counter = this.counters.at(address, now);
    this.counters.add(counter);
    if (counter.flagged || counter.count() <= this.spec.maxFailures) return undefined;
    counter.flagged = true;
    const until = now + this.spec.blockSeconds * 1000;
    this.blockedUntil.set(address, until);
    return until;
  }
}
