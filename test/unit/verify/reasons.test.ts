import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isUnsignedOrSymmetric,
  KEY_STEP_REASONS,
  REASON_CODES,
  REASONS,
  type Reason,
  severityOf,
} from '../../../src/verify/reasons.js';

// The reason table of ARCHITECTURE.md and issue 2, written out again on purpose: a reason
// added, dropped or moved to another status has to be a deliberate change in both places.
const BY_STATUS: Record<number, readonly Reason[]> = {
  401: [
    'missing_token',
    'malformed_token',
    'alg_not_allowed',
    'forbidden_header',
    'wrong_token_type',
    'unknown_issuer',
    'unknown_key',
    'key_issuer_mismatch',
    'key_inactive',
    'key_revoked',
    'key_quarantined',
    'key_not_pinned',
    'bad_signature',
    'token_expired',
    'token_not_yet_valid',
    'token_lifetime_exceeded',
    'claim_missing',
    'audience_mismatch',
    'tenant_not_allowed',
    'tenant_mismatch',
    'issuer_not_accepted',
    'resource_minted_token',
    'delegation_not_allowed',
    'lineage_unknown',
    'parent_revoked',
    'token_revoked',
    'token_inactive',
    'subject_revoked',
    'issuer_revoked',
    'session_revoked',
    'signal_blocked',
    'signal_stream_down',
    'token_blocked',
    'subject_blocked',
    'token_not_bound',
    'dpop_key_mismatch',
    'dpop_bound_as_bearer',
    'certificate_required',
    'certificate_mismatch',
    'sign_in_failed',
  ],
  403: ['insufficient_scope', 'insufficient_role', 'host_not_allowed', 'blocked_network', 'blocked_source'],
  408: ['body_timeout'],
  429: ['rate_limited'],
  431: ['too_many_headers'],
  503: [
    'keys_unavailable',
    'revocation_state_stale',
    'lineage_unavailable',
    'introspection_unavailable',
    'overloaded',
    'upstream_busy',
  ],
  404: ['no_route'],
  502: ['upstream_unavailable', 'mint_refused'],
  504: ['upstream_timeout'],
};

// DPoP proof refusals are 401 too, with RFC 9449's own error codes (§7.1, §8).
const DPOP_PROOF_401: Readonly<Record<string, string>> = {
  dpop_proof_missing: 'invalid_dpop_proof',
  dpop_proof_invalid: 'invalid_dpop_proof',
  dpop_proof_replayed: 'invalid_dpop_proof',
  dpop_nonce_required: 'use_dpop_nonce',
};
// Bearer and DPoP credentials at once (RFC 9449 §7.2); the replay store away under fail-closed.
const DPOP_OTHER: Readonly<Record<string, number>> = {
  ambiguous_credentials: 400,
  dpop_replay_unavailable: 503,
};

const SEVERITIES = new Set(['critical', 'high', 'low']);

test('the reason table is exactly the documented one, each reason with its status', () => {
  const documented = [
    ...Object.values(BY_STATUS).flat(),
    ...Object.keys(DPOP_PROOF_401),
    ...Object.keys(DPOP_OTHER),
  ];
  for (const [reason, error] of Object.entries(DPOP_PROOF_401)) {
    assert.equal(REASONS[reason as Reason].status, 401, reason);
    assert.equal(REASONS[reason as Reason].error, error, reason);
  }
  for (const [reason, status] of Object.entries(DPOP_OTHER))
    assert.equal(REASONS[reason as Reason].status, status, reason);
  assert.deepEqual([...REASON_CODES].sort(), [...documented].sort());
  for (const [status, reasons] of Object.entries(BY_STATUS)) {
    for (const reason of reasons) assert.equal(REASONS[reason].status, Number(status), reason);
  }
});

test('every reason has an error code and a base severity', () => {
  for (const reason of REASON_CODES) {
    const spec = REASONS[reason];
    assert.equal(typeof spec.error, 'string', reason);
    assert.ok(spec.error.length > 0, reason);
    assert.ok(SEVERITIES.has(spec.severity), reason);
  }
});

test('token refusals say invalid_token, scopes say insufficient_scope, no route says not_found', () => {
  for (const reason of BY_STATUS[401]!) assert.equal(REASONS[reason].error, 'invalid_token', reason);
  assert.equal(REASONS.insufficient_scope.error, 'insufficient_scope');
  assert.equal(REASONS.insufficient_role.error, 'insufficient_scope');
  assert.equal(REASONS.no_route.error, 'not_found');
  for (const reason of ['blocked_network', 'blocked_source'] as const)
    assert.notEqual(REASONS[reason].error, 'insufficient_scope');
});

test('key-step refusals are critical only when the signature verified under the named key', () => {
  assert.deepEqual([...KEY_STEP_REASONS].sort(), [
    'key_inactive',
    'key_issuer_mismatch',
    'key_not_pinned',
    'key_quarantined',
    'key_revoked',
  ]);
  for (const reason of KEY_STEP_REASONS) {
    assert.equal(severityOf(reason, { signatureValid: true }), 'critical', reason);
    assert.equal(severityOf(reason, { signatureValid: false }), 'high', reason);
    assert.equal(severityOf(reason, { signatureValid: 'unchecked' }), 'high', reason);
    assert.equal(severityOf(reason), 'high', reason);
  }
});

test('alg_not_allowed is critical for none and HMAC, high for any other algorithm', () => {
  for (const alg of ['none', 'None', 'NONE', 'HS256', 'HS384', 'HS512', 'hs256']) {
    assert.equal(severityOf('alg_not_allowed', { alg }), 'critical', alg);
    assert.equal(isUnsignedOrSymmetric(alg), true, alg);
  }
  for (const alg of ['RS384', 'ES512', 'PS256', 'EdDSA', 'RSA-OAEP', '']) {
    assert.equal(severityOf('alg_not_allowed', { alg }), 'high', alg);
    assert.equal(isUnsignedOrSymmetric(alg), false, alg);
  }
  assert.equal(severityOf('alg_not_allowed'), 'high');
});

test('resource_minted_token is critical on a token-minting route, high elsewhere', () => {
  assert.equal(severityOf('resource_minted_token', { routeMintsTokens: true }), 'critical');
  assert.equal(severityOf('resource_minted_token', { routeMintsTokens: false }), 'high');
  assert.equal(severityOf('resource_minted_token'), 'high');
});

test('forbidden_header is always critical', () => {
  assert.equal(severityOf('forbidden_header'), 'critical');
});

test("dpop_key_mismatch is critical when the proof verified under its own key: a stolen token with the thief's key", () => {
  assert.equal(severityOf('dpop_key_mismatch', { signatureValid: true }), 'critical');
  assert.equal(severityOf('dpop_key_mismatch', { signatureValid: 'unchecked' }), 'high');
  assert.equal(severityOf('dpop_key_mismatch'), 'high');
});

test('facts never raise a reason they do not concern', () => {
  const raisers: ReadonlySet<Reason> = new Set([
    ...KEY_STEP_REASONS,
    'alg_not_allowed',
    'resource_minted_token',
    'dpop_key_mismatch',
  ]);
  const facts = { signatureValid: true, alg: 'none', routeMintsTokens: true } as const;
  for (const reason of REASON_CODES) {
    if (raisers.has(reason)) continue;
    assert.equal(severityOf(reason, facts), REASONS[reason].severity, reason);
    assert.equal(severityOf(reason), REASONS[reason].severity, reason);
  }
});
