import { createHash } from 'node:crypto';

/** What a block refuses: a client address, one token (by fingerprint), or a subject's tokens. */
export type BlockTarget = 'address' | 'token' | 'subject';
export type BlockRule = 'token_replay' | 'failure_burst' | 'critical_event' | 'volume_spike';

export interface BlockRecord {
  readonly id: string;
  readonly target: BlockTarget;
  /** The address, the token fingerprint, or `issuerId:sub` (issuer ids never contain ':'). */
  readonly value: string;
  readonly rule: BlockRule;
  readonly reason: 'blocked_source' | 'token_blocked' | 'subject_blocked';
  /** RFC 3339 instant of the decision. */
  readonly at: string;
  /** Epoch milliseconds; past it the block no longer applies and is dropped. */
  readonly expiresAt: number;
  /** The instance that decided (host:pid). */
  readonly by: string;
  /** The counts and addresses that made the rule fire. */
  readonly evidence: Record<string, unknown>;
}

/**
 * Derived from what is blocked, so that two instances blocking the same thing at once write one
 * record (the later expiry wins) and an operator's id stays valid when a block is extended.
 */
export function blockId(target: BlockTarget, value: string): string {
  const digest = createHash('sha256').update(`${target}\u0000${value}`).digest('hex');
  return `${target}-${digest.slice(0, 16)}`;
}

export function subjectValue(issuerId: string, sub: string): string {
  return `${issuerId}:${sub}`;
}
