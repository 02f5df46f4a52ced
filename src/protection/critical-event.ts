import type { ProtectionConfig } from '../config/schema.js';
import type { RefusalEvent } from '../observability/security-events.js';
import type { AnomalyActions } from './anomaly-actions.js';

export type CriticalEventSpec = Readonly<NonNullable<ProtectionConfig['anomalies']['criticalEvent']>>;

/**
 * `critical_event`: one critical refusal (a forged signature that verifies, an unsigned or HMAC
 * token, a resource-minted token at a token endpoint; see severityOf) is an incident, not noise,
 * so its source is blocked at once rather than after a burst.
 */
export class CriticalEvent {
  constructor(
    private readonly spec: CriticalEventSpec,
    private readonly actions: AnomalyActions,
  ) {}

  onRefusal(event: RefusalEvent, now: number): void {
    if (event.severity !== 'critical') return;
    this.actions.act(
      {
        rule: 'critical_event',
        mode: this.spec.mode,
        subject: event.sub,
        issuer: event.issuerId ?? event.claimedIssuer,
        tokenFingerprint: event.tokenFingerprint,
        route: event.route,
        addresses: [event.ip],
        counts: { criticalRefusals: 1 },
      },
      {
        target: 'address',
        value: event.ip,
        reason: 'blocked_source',
        expiresAt: now + this.spec.blockSeconds * 1000,
        now,
      },
    );
  }
}
