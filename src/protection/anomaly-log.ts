import type { Logger } from 'pino';
import type { ProtectionMode } from '../config/schema.js';
import { boundStrings } from '../observability/bound-text.js';
import type { AnomalyEvent } from '../observability/security-events.js';
import type { Severity } from '../verify/reasons.js';
import type { BlockRecord, BlockRule } from './block-record.js';

export type AnomalyRule = BlockRule | 'rate_limit' | 'deny_network';

/** One security event per block and per flagged anomaly, with the evidence that made it fire. */
export interface Anomaly {
  readonly rule: AnomalyRule;
  readonly mode: ProtectionMode;
  readonly subject?: string | undefined;
  readonly issuer?: string | undefined;
  readonly tokenFingerprint?: string | undefined;
  readonly route?: string | undefined;
  /** Rate limit name, for `rate_limit`. */
  readonly limit?: string | undefined;
  readonly addresses: readonly string[];
  readonly counts: Readonly<Record<string, number>>;
}

const MAX_ADDRESSES = 50;

// A forged signature is an incident; a replayed token, a burst or a spike is a likely attack;
// going over a rate limit or coming from a listed network is policy at work.
const SEVERITY: Record<AnomalyRule, Severity> = {
  critical_event: 'critical',
  token_replay: 'high',
  failure_burst: 'high',
  volume_spike: 'high',
  rate_limit: 'low',
  deny_network: 'low',
};

/** Writes the anomaly's one log line and returns it as the security event stream carries it. */
export function logAnomaly(logger: Logger, anomaly: Anomaly, block?: BlockRecord): AnomalyEvent {
  const action = block === undefined ? 'flagged' : 'blocked';
  // The subject is the token's `sub`: bounded like every token-derived field of an event.
  const event: AnomalyEvent = boundStrings({
    event: 'anomaly',
    severity: SEVERITY[anomaly.rule],
    action,
    ...anomaly,
    addresses: anomaly.addresses.slice(0, MAX_ADDRESSES),
    ...(block === undefined
      ? {}
      : { blockId: block.id, blocked: block.target, until: new Date(block.expiresAt).toISOString() }),
  });
  const what = block === undefined ? 'flagged (monitor: nothing refused)' : `blocked ${block.target}`;
  if (event.severity === 'critical') logger.error(event, `anomaly ${anomaly.rule}: ${what}`);
  else logger.warn(event, `anomaly ${anomaly.rule}: ${what}`);
  return event;
}
