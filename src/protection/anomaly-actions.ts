import type { Logger } from 'pino';
import type { AnomalyEvent } from '../observability/security-events.js';
import { type Anomaly, logAnomaly } from './anomaly-log.js';
import { type BlockRecord, type BlockTarget, blockId } from './block-record.js';
import type { BlockService } from './block-service.js';

export interface BlockDecision {
  readonly target: BlockTarget;
  readonly value: string;
  readonly reason: BlockRecord['reason'];
  readonly expiresAt: number;
  readonly now: number;
}

/** What every rule does once it fires: block and say so (enforce), or only say so (monitor). */
export class AnomalyActions {
  private readonly listeners: ((event: AnomalyEvent) => void)[] = [];

  constructor(
    private readonly blocks: BlockService,
    private readonly logger: Logger,
    /** host:pid of this instance, recorded on the blocks it decides. */
    private readonly instance: string,
  ) {}

  /** Every anomaly written, for the security event stream. */
  onAnomaly(listener: (event: AnomalyEvent) => void): void {
    this.listeners.push(listener);
  }

  flag(anomaly: Anomaly): void {
    this.report(logAnomaly(this.logger, anomaly));
  }

  /** Blocks in enforce mode (logging only a block that is new), flags in monitor mode. */
  act(
    anomaly: Anomaly & { readonly rule: BlockRecord['rule'] },
    decision: BlockDecision,
  ): BlockRecord | undefined {
    if (anomaly.mode === 'monitor') {
      this.flag(anomaly);
      return undefined;
    }
    const block: BlockRecord = {
      id: blockId(decision.target, decision.value),
      target: decision.target,
      value: decision.value,
      rule: anomaly.rule,
      reason: decision.reason,
      at: new Date(decision.now).toISOString(),
      expiresAt: decision.expiresAt,
      by: this.instance,
      evidence: {
        subject: anomaly.subject,
        issuer: anomaly.issuer,
        tokenFingerprint: anomaly.tokenFingerprint,
        route: anomaly.route,
        addresses: anomaly.addresses.slice(0, 50),
        counts: anomaly.counts,
      },
    };
    if (this.blocks.block(block)) this.report(logAnomaly(this.logger, anomaly, block));
    return this.blocks.mirror.get(block.id) ?? block;
  }

  private report(event: AnomalyEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
