import type { Reason, SignatureEvidence } from './reasons.js';

/** What the security event records about a refused token; never the token itself. */
export interface FailureDetail {
  claimedIssuer?: string;
  issuerId?: string;
  keyIssuer?: string;
  kid?: string;
  alg?: string;
  sub?: string;
  jti?: string;
  signatureValid?: SignatureEvidence;
  /** Free text for the operator's log; never shown to the client. */
  note?: string;
  retryAfterSeconds?: number;
}

/**
 * The one way a pipeline step says no. Steps throw it; the error handler turns the reason
 * into status, WWW-Authenticate, body and security event, so no step can forget to refuse.
 */
export class AuthFailure extends Error {
  readonly reason: Reason;
  readonly detail: FailureDetail;

  constructor(reason: Reason, detail: FailureDetail = {}) {
    // A refusal is an answer, not a bug: nobody reads its stack, and capturing one costs
    // microseconds on every refused request, which is bad traffic's cheapest lever on us.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(reason);
    Error.stackTraceLimit = limit;
    this.name = 'AuthFailure';
    this.reason = reason;
    this.detail = detail;
  }
}

export function isAuthFailure(value: unknown): value is AuthFailure {
  return value instanceof AuthFailure;
}
