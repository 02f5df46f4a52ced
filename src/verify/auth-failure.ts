import type { Reason, SignatureEvidence } from './reasons.js';

/** Response headers a step hands back: with its refusal (FailureDetail), or with its consent. */
export type ResponseHeaders = Readonly<Record<string, string>>;

/**
 * What the security event records about a refused token, never the token itself, and what the
 * refusal adds on the wire. Readonly: a settled refusal is rethrown, as the same object, to every
 * later request with the same token (see TokenVerifier), so nobody may fill it in afterwards.
 */
export interface FailureDetail {
  readonly claimedIssuer?: string | undefined;
  readonly issuerId?: string | undefined;
  readonly keyIssuer?: string | undefined;
  readonly kid?: string | undefined;
  readonly alg?: string | undefined;
  readonly sub?: string | undefined;
  readonly jti?: string | undefined;
  readonly signatureValid?: SignatureEvidence | undefined;
  /** What the token is bound to (`jkt:<thumbprint>`, `x5t:<thumbprint>`), for sender-constraint refusals. */
  readonly binding?: string | undefined;
  /** What the request presented: the DPoP proof's key or the client certificate, the same way. */
  readonly presented?: string | undefined;
  /** The proof's `htu`, normalised (RFC 3986 §6): never the proof itself. */
  readonly htu?: string | undefined;
  /** Free text for the operator's log; never shown to the client. */
  readonly note?: string | undefined;
  readonly retryAfterSeconds?: number | undefined;
  /** Sent with the refusal, before the standard ones (e.g. RateLimit-Policy and RateLimit). */
  readonly headers?: ResponseHeaders | undefined;
}

/**
 * The one way a pipeline step says no. Steps throw it; one place (src/http/request-pipeline.ts)
 * turns the reason into status, WWW-Authenticate, body and security event, so no step can forget
 * to refuse.
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
