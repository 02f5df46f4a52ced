// The one list of refusal reasons and what each means on the wire and in the security log.
// Every refusal in the gateway names one of these; tests assert on the code, never on text.

export type Severity = 'critical' | 'high' | 'low';

interface ReasonSpec {
  readonly status: 400 | 401 | 403 | 404 | 408 | 429 | 431 | 502 | 503 | 504;
  /** OAuth error code for WWW-Authenticate and the body; undefined for non-token refusals. */
  readonly error:
    | 'invalid_token'
    | 'invalid_dpop_proof'
    | 'use_dpop_nonce'
    | 'insufficient_scope'
    | 'invalid_request'
    | 'forbidden'
    | 'not_found'
    | 'rate_limited'
    | 'request_timeout'
    | 'unavailable';
  /** Severity when nothing about the request raises it (see severityOf). */
  readonly severity: Severity;
  /** Which WWW-Authenticate challenge goes with it (see Challenge); default from `error`. */
  readonly challenge?: Challenge;
}

/**
 * The WWW-Authenticate challenges of a refusal (RFC 6750 §3, RFC 9449 §7.1 and §7.2), rendered by
 * src/proxy/refusal-reply.ts with the route's DPoP `algs`:
 *  - `offer`: every scheme the route takes, without an error (no credentials came);
 *  - `token`: the error on the scheme the request used (Bearer or DPoP);
 *  - `dpop`, `bearer`: the error on that scheme, whatever the request used;
 *  - `route`: the error on every scheme the route takes;
 *  - `both`: the error on Bearer and on DPoP (the request used both at once);
 *  - `none`: no challenge (not a credentials problem).
 * Default: `token` for `invalid_token` and `insufficient_scope`, else `none`.
 */
export type Challenge = 'offer' | 'token' | 'dpop' | 'bearer' | 'route' | 'both' | 'none';

export const REASONS = {
  missing_token: { status: 401, error: 'invalid_token', severity: 'low', challenge: 'offer' },
  ambiguous_credentials: { status: 400, error: 'invalid_request', severity: 'low', challenge: 'both' },
  malformed_token: { status: 401, error: 'invalid_token', severity: 'low' },
  alg_not_allowed: { status: 401, error: 'invalid_token', severity: 'high' },
  forbidden_header: { status: 401, error: 'invalid_token', severity: 'critical' },
  wrong_token_type: { status: 401, error: 'invalid_token', severity: 'low' },
  unknown_issuer: { status: 401, error: 'invalid_token', severity: 'low' },
  unknown_key: { status: 401, error: 'invalid_token', severity: 'low' },
  key_issuer_mismatch: { status: 401, error: 'invalid_token', severity: 'high' },
  key_inactive: { status: 401, error: 'invalid_token', severity: 'high' },
  key_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  key_quarantined: { status: 401, error: 'invalid_token', severity: 'high' },
  key_not_pinned: { status: 401, error: 'invalid_token', severity: 'high' },
  bad_signature: { status: 401, error: 'invalid_token', severity: 'high' },
  token_expired: { status: 401, error: 'invalid_token', severity: 'low' },
  token_not_yet_valid: { status: 401, error: 'invalid_token', severity: 'low' },
  token_lifetime_exceeded: { status: 401, error: 'invalid_token', severity: 'low' },
  claim_missing: { status: 401, error: 'invalid_token', severity: 'low' },
  audience_mismatch: { status: 401, error: 'invalid_token', severity: 'low' },
  tenant_not_allowed: { status: 401, error: 'invalid_token', severity: 'high' },
  tenant_mismatch: { status: 401, error: 'invalid_token', severity: 'high' },
  issuer_not_accepted: { status: 401, error: 'invalid_token', severity: 'high' },
  resource_minted_token: { status: 401, error: 'invalid_token', severity: 'high' },
  delegation_not_allowed: { status: 401, error: 'invalid_token', severity: 'high' },
  lineage_unknown: { status: 401, error: 'invalid_token', severity: 'high' },
  parent_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  mint_refused: { status: 502, error: 'unavailable', severity: 'critical' },
  lineage_unavailable: { status: 503, error: 'unavailable', severity: 'high' },
  token_not_bound: { status: 401, error: 'invalid_token', severity: 'high', challenge: 'route' },
  dpop_proof_missing: { status: 401, error: 'invalid_dpop_proof', severity: 'low', challenge: 'dpop' },
  dpop_proof_invalid: { status: 401, error: 'invalid_dpop_proof', severity: 'low', challenge: 'dpop' },
  dpop_proof_replayed: { status: 401, error: 'invalid_dpop_proof', severity: 'high', challenge: 'dpop' },
  dpop_key_mismatch: { status: 401, error: 'invalid_token', severity: 'high', challenge: 'dpop' },
  dpop_bound_as_bearer: { status: 401, error: 'invalid_token', severity: 'high', challenge: 'dpop' },
  dpop_nonce_required: { status: 401, error: 'use_dpop_nonce', severity: 'low', challenge: 'dpop' },
  dpop_replay_unavailable: { status: 503, error: 'unavailable', severity: 'high' },
  certificate_required: { status: 401, error: 'invalid_token', severity: 'high', challenge: 'bearer' },
  certificate_mismatch: { status: 401, error: 'invalid_token', severity: 'high', challenge: 'bearer' },
  token_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  token_inactive: { status: 401, error: 'invalid_token', severity: 'high' },
  subject_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  issuer_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  session_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
  signal_blocked: { status: 401, error: 'invalid_token', severity: 'high' },
  signal_stream_down: { status: 401, error: 'invalid_token', severity: 'low' },
  token_blocked: { status: 401, error: 'invalid_token', severity: 'high' },
  subject_blocked: { status: 401, error: 'invalid_token', severity: 'high' },
  insufficient_scope: { status: 403, error: 'insufficient_scope', severity: 'low' },
  insufficient_role: { status: 403, error: 'insufficient_scope', severity: 'low' },
  host_not_allowed: { status: 403, error: 'forbidden', severity: 'high' },
  sign_in_failed: { status: 401, error: 'invalid_token', severity: 'low' },
  blocked_network: { status: 403, error: 'forbidden', severity: 'low' },
  blocked_source: { status: 403, error: 'forbidden', severity: 'high' },
  rate_limited: { status: 429, error: 'rate_limited', severity: 'low' },
  too_many_headers: { status: 431, error: 'invalid_request', severity: 'low' },
  keys_unavailable: { status: 503, error: 'unavailable', severity: 'high' },
  revocation_state_stale: { status: 503, error: 'unavailable', severity: 'high' },
  introspection_unavailable: { status: 503, error: 'unavailable', severity: 'high' },
  overloaded: { status: 503, error: 'unavailable', severity: 'low' },
  no_route: { status: 404, error: 'not_found', severity: 'low' },
  upstream_unavailable: { status: 502, error: 'unavailable', severity: 'low' },
  upstream_timeout: { status: 504, error: 'unavailable', severity: 'low' },
  upstream_busy: { status: 503, error: 'unavailable', severity: 'low' },
  body_timeout: { status: 408, error: 'request_timeout', severity: 'low' },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

/** The challenge a refusal for `reason` carries (see Challenge). */
export function challengeOf(reason: Reason): Challenge {
  const spec: ReasonSpec = REASONS[reason];
  if (spec.challenge !== undefined) return spec.challenge;
  return spec.error === 'invalid_token' || spec.error === 'insufficient_scope' ? 'token' : 'none';
}

export const REASON_CODES = Object.keys(REASONS) as Reason[];

/** Refusals at the key step: an incident when the signature proves someone holds the key. */
export const KEY_STEP_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  'key_issuer_mismatch',
  'key_inactive',
  'key_revoked',
  'key_quarantined',
  'key_not_pinned',
]);

/** Whether a key-step refusal was signed with the key its kid names. */
export type SignatureEvidence = boolean | 'unchecked';

export interface SeverityFacts {
  /** Key-step reasons: signed with the key the kid names; dpop_key_mismatch: the proof verified under its own key. */
  readonly signatureValid?: SignatureEvidence;
  readonly alg?: string;
  readonly routeMintsTokens?: boolean;
}

/**
 * The severity table is REASONS; these are the facts that raise a refusal to critical:
 * a forged signature that verifies, an unsigned or HMAC token (an attempt at algorithm
 * confusion), a resource-minted token offered to a token-minting endpoint, and a valid DPoP
 * proof made with another key than the one the token is bound to.
 */
export function severityOf(reason: Reason, facts: SeverityFacts = {}): Severity {
  if (KEY_STEP_REASONS.has(reason)) return facts.signatureValid === true ? 'critical' : 'high';
  // A valid proof by another key than the token's: a stolen token, tried with the thief's own key.
  if (reason === 'dpop_key_mismatch') return facts.signatureValid === true ? 'critical' : 'high';
  if (reason === 'alg_not_allowed' && facts.alg !== undefined && isUnsignedOrSymmetric(facts.alg)) {
    return 'critical';
  }
  if (reason === 'resource_minted_token' && facts.routeMintsTokens === true) return 'critical';
  return REASONS[reason].severity;
}

export function isUnsignedOrSymmetric(alg: string): boolean {
  const upper = alg.toUpperCase();
  return upper === 'NONE' || upper.startsWith('HS');
}
