import { createHash } from 'node:crypto';
import type { RevocationSpec } from '../config/schema.js';

export type { RevocationSpec };

export type RevocationKind = RevocationSpec['kind'];
/** `ssf`: applied from a Security Event Token of a shared-signals transmitter (src/signals/). */
export type RevocationSource = 'config' | 'api' | 'cli' | 'ssf';

/** A revocation as stored: what, and the audit facts (who, when, why, through what). */
export type RevocationRecord = RevocationSpec & {
  id: string;
  reason: string | undefined;
  /** Who: an operator's `sub` (set by the admin guard, never by the caller), `static-token`, `config`, `cli:<user>`. */
  by: string;
  /** The issuer id of the operator's token, when `by` is an operator. */
  byIssuer?: string;
  /** What the caller wrote about it (an API caller's `by` lands here). */
  note?: string;
  at: string;
  source: RevocationSource;
  /** Epoch ms after which the record may be dropped (token revocations only). */
  expiresAt: number | undefined;
};

/**
 * The id is derived from what is revoked, so revoking the same thing twice (from the config at
 * every start, or an operator repeating a command) finds the record that is already there.
 */
export function revocationId(spec: RevocationSpec): string {
  const what =
    spec.kind === 'key'
      ? [spec.issuer, spec.kid]
      : spec.kind === 'token'
        ? [spec.issuer, spec.jti]
        : spec.kind === 'subject'
          ? [spec.issuer, spec.sub, spec.before]
          : spec.kind === 'session'
            ? [spec.issuer, spec.sid]
            : [spec.issuer, spec.before];
  const digest = createHash('sha256')
    .update(JSON.stringify([spec.kind, ...what]))
    .digest('hex');
  return `${spec.kind}-${digest.slice(0, 16)}`;
}

export interface RecordFacts {
  reason?: string | undefined;
  by: string;
  byIssuer?: string | undefined;
  note?: string | undefined;
  source: RevocationSource;
  now: number;
  /** Added to a token's exp before its revocation may be forgotten. */
  clockSkewSeconds: number;
}

export function makeRecord(spec: RevocationSpec, facts: RecordFacts): RevocationRecord {
  const expiresAt =
    (spec.kind === 'token' || spec.kind === 'session') && spec.exp !== undefined
      ? (spec.exp + facts.clockSkewSeconds) * 1000
      : undefined;
  return {
    ...spec,
    id: revocationId(spec),
    reason: facts.reason,
    by: facts.by,
    at: new Date(facts.now).toISOString(),
    source: facts.source,
    expiresAt,
    ...(facts.byIssuer === undefined ? {} : { byIssuer: facts.byIssuer }),
    ...(facts.note === undefined ? {} : { note: facts.note }),
  };
}
