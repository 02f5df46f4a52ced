// The one list of refusal reasons and what each means on the wire and in the security log.
// Every refusal in the gateway names one of these; tests assert on the code, never on text.

export type Severity = 'critical' | 'high' | 'low';

interface ReasonSpec {
  readonly status: 401 | 403 | 404 | 408 | 429 | 431 | 502 | 503 | 504;
  /** OAuth error code for WWW-Authenticate and the body; undefined for non-token refusals. */
  readonly error:
    | 'invalid_token'
    | 'insufficient_scope'
    | 'invalid_request'
    | 'forbidden'
    | 'not_found'
    | 'rate_limited'
    | 'request_timeout'
    | 'unavailable';
  /** Severity when nothing about the request raises it (see severityOf). */
  readonly severity: Severity;
}

export const REASONS = {
  missing_token: { status: 401, error: 'invalid_token', severity: 'low' },
  malformed_token: { status: 401, error: 'invalid_token', severity: 'low' },
  alg_not_allowed: { status: 401, error: 'invalid_token', severity: 'high' },
  forbidden_header: { status: 401, error: 'invalid_token', severity: 'critical' },
  wrong_token_type: { status: 401, error: 'invalid_token', severity: 'low' },
  unknown_issuer: { status: 401, error: 'invalid_token', severity: 'low' },
  unknown_key: { status: 401, error: 'invalid_token', severity: 'low' },
  key_issuer_mismatch: { status: 401, error: 'invalid_token', severity: 'high' },
  key_inactive: { status: 401, error: 'invalid_token', severity: 'high' },
  key_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
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
  token_revoked: { status: 401, error: 'invalid_token', severity: 'high' },
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
  overloaded: { status: 503, error: 'unavailable', severity: 'low' },
  no_route: { status: 404, error: 'not_found', severity: 'low' },
  upstream_unavailable: { status: 502, error: 'unavailable', severity: 'low' },
  upstream_timeout: { status: 504, error: 'unavailable', severity: 'low' },
  upstream_busy: { status: 503, error: 'unavailable', severity: 'low' },
  body_timeout: { status: 408, error: 'request_timeout', severity: 'low' },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

export const REASON_CODES = Object.keys(REASONS) as Reason[];

/** Refusals at the key step: an incident when the signature proves someone holds the key. */
export const KEY_STEP_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  'key_issuer_mismatch',
  'key_inactive',
  'key_revoked',
]);

/** Whether a key-step refusal was signed with the key its kid names. */
export type SignatureEvidence = boolean | 'unchecked';

export interface SeverityFacts {
  readonly signatureValid?: SignatureEvidence;
  readonly alg?: string;
  readonly routeMintsTokens?: boolean;
}

/**
 * The severity table is REASONS; these are the facts that raise a refusal to critical:
 * a forged signature that verifies, an unsigned or HMAC token (an attempt at algorithm
 * confusion), and a resource-minted token offered to a token-minting endpoint.
 */
export function severityOf(reason: Reason, facts: SeverityFacts = {}): Severity {
  if (KEY_STEP_REASONS.has(reason)) return facts.signatureValid === true ? 'critical' : 'high';
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
