import type { ProtectionConfig } from '../config/schema.js';
import type { RefusalEvent } from '../observability/security-events.js';
import { REASONS } from '../verify/reasons.js';
import type { AnomalyActions } from './anomaly-actions.js';
import type { SharedTallies } from './shared-tallies.js';
import { type WindowCounter, WindowCounters } from './window-counters.js';

export type FailureBurstSpec = Readonly<NonNullable<ProtectionConfig['anomalies']['failureBurst']>>;

/**
 * `failure_burst`: more than `maxFailures` refused tokens from one address within the window
 * (counted on every instance) blocks the address, 403 blocked_source, for `blockSeconds`. A
 * refused token is any invalid_token refusal that carried a token: no token at all is not a guess.
 */
export class FailureBurst {
  readonly counters: WindowCounters;

  constructor(
    private readonly spec: FailureBurstSpec,
    private readonly actions: AnomalyActions,
    shared: SharedTallies | undefined,
    private readonly clock: () => number,
  ) {
    this.counters = new WindowCounters('fb', spec.windowSeconds * 1000, shared, (counter) =>
      this.check(counter, this.clock()),
    );
  }

  onRefusal(event: RefusalEvent, now: number): void {
    if (REASONS[event.reason].error !== 'invalid_token' || event.reason === 'missing_token') return;
    const counter = this.counters.at(event.ip, now);
    this.counters.add(counter);
    this.check(counter, now);
  }

  private check(counter: WindowCounter, now: number): void {
    if (counter.flagged || counter.count() <= this.spec.maxFailures) return;
    counter.flagged = true;
    this.actions.act(
      {
        rule: 'failure_burst',
        mode: this.spec.mode,
        addresses: [counter.key],
        counts: {
          failures: counter.count(),
          maxFailures: this.spec.maxFailures,
          windowSeconds: this.spec.windowSeconds,
        },
      },
      {
        target: 'address',
        value: counter.key,
        reason: 'blocked_source',
        expiresAt: now + this.spec.blockSeconds * 1000,
        now,
      },
    );
  }
}
