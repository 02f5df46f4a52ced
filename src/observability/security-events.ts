import type { Logger } from 'pino';
import type { FailureDetail } from '../verify/auth-failure.js';
import type { Reason, Severity } from '../verify/reasons.js';
import { boundStrings } from './bound-text.js';

/** The fields of a FailureDetail that name the refused token in its event, each one present. */
type TokenFieldName =
  | 'claimedIssuer'
  | 'issuerId'
  | 'keyIssuer'
  | 'kid'
  | 'alg'
  | 'sub'
  | 'jti'
  | 'signatureValid'
  | 'binding'
  | 'presented'
  | 'htu'
  | 'note';
type TokenFields = Pick<FailureDetail, TokenFieldName>;
type EventTokenFields = { readonly [K in TokenFieldName]: TokenFields[K] };

/**
 * One refusal as the security log records it; identifies the token, never contains it. Every
 * field is present, undefined when unknown: every event has one object shape, which keeps the
 * listeners that read them (counters, rules, stream) monomorphic.
 */
export interface RefusalEvent extends EventTokenFields {
  readonly event: 'auth.refused';
  readonly reason: Reason;
  readonly severity: Severity;
  readonly status: number;
  readonly route: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly ip: string;
  readonly tokenFingerprint: string | undefined;
}

export type RefusalListener = (event: RefusalEvent) => void;

/**
 * Every security event that is not a refusal: an anomaly rule firing, something done on the
 * admin listener, a tunnel closed, a key appearing or decided, a token minted, a shared signal
 * received. Its fields are its family's own; it names tokens, SETs and proofs (issuer, `jti`,
 * fingerprint), never contains one.
 */
export interface NoticeEvent {
  readonly event: string;
  readonly severity: Severity;
  readonly [field: string]: unknown;
}

export type NoticeListener = (event: NoticeEvent) => void;

/** An anomaly rule firing (src/protection/anomaly-log.ts writes its log line); the evidence fields are the rule's own. */
export interface AnomalyEvent extends NoticeEvent {
  readonly event: 'anomaly';
  readonly rule: string;
}

/**
 * Something done on the admin listener that an auditor wants to see: the break-glass token
 * used, an operator refused, a source blocked (src/admin/admin-events.ts).
 */
export interface AdminEvent extends NoticeEvent {
  readonly event: `admin.${string}`;
}

/**
 * An open tunnel (a WebSocket, say) closed by the gateway because the credential that opened it
 * died: its token expired, or its key, token, session, subject or issuer was revoked (`reason`,
 * a reason code). Names the token as a refusal does, never contains it.
 */
export interface TunnelEvent extends NoticeEvent {
  readonly event: 'tunnel.closed';
  readonly reason: Reason;
}

/** Everything that reaches the security-event stream. */
export type SecurityEventRecord = RefusalEvent | NoticeEvent;

/**
 * Writes every security event to the log, and hands it to listeners: refusals to theirs
 * (counters, blocking, streams), every other event to one list (the ring, the stream).
 */
export class SecurityEvents {
  private readonly listeners: RefusalListener[] = [];
  private readonly noticeListeners: NoticeListener[] = [];

  constructor(private readonly logger: Logger) {}

  onRefusal(listener: RefusalListener): void {
    this.listeners.push(listener);
  }

  onNotice(listener: NoticeListener): void {
    this.noticeListeners.push(listener);
  }

  /**
   * Bounds the event's text fields, writes its log line at the level its severity says (low
   * info, high warn, critical error) unless `message` is undefined (the caller wrote the line
   * already, with its own fields), and hands it on.
   */
  notice(notice: NoticeEvent, message: string | undefined): void {
    const event = boundStrings(notice);
    if (message !== undefined) {
      if (event.severity === 'critical') this.logger.error(event, message);
      else if (event.severity === 'high') this.logger.warn(event, message);
      else this.logger.info(event, message);
    }
    for (const listener of this.noticeListeners) listener(event);
  }

  /**
   * Logs the refusal and hands it on. Every text field is bounded first (kid, iss, sub, jti and
   * the path are the client's to choose), so the log, the ring and the stream get the same event.
   */
  refused(refusal: RefusalEvent): void {
    const event = boundStrings(refusal);
    const message = describe(event);
    if (event.severity === 'critical') this.logger.error(event, message);
    else if (event.severity === 'high') this.logger.warn(event, message);
    else this.logger.info(event, message);
    for (const listener of this.listeners) listener(event);
  }
}

function describe(e: RefusalEvent): string {
  if (e.reason === 'dpop_key_mismatch' && e.severity === 'critical') {
    return `STOLEN TOKEN: a valid DPoP proof by ${e.presented} for a token bound to ${e.binding}; someone holds the token but not its key`;
  }
  if (e.severity === 'critical' && e.signatureValid === true) {
    const holder = e.reason === 'key_issuer_mismatch' ? `issuer ${e.keyIssuer}` : `issuer ${e.issuerId}`;
    return `FORGERY CONFIRMED: token signed with the private key ${e.kid} of ${holder} (${e.reason}); someone holds that key`;
  }
  if (e.severity === 'critical') return `critical refusal: ${e.reason}`;
  if (e.signatureValid === false) return `probe: ${e.reason} with a signature that does not verify`;
  return `refused: ${e.reason}`;
}
