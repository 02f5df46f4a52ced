// Each reason's WWW-Authenticate challenge comes from the reason table (challengeOf), rendered
// for the scheme the request used and the route's DPoP algs (RFC 6750 §3, RFC 9449 §7.1, §7.2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChallengeContext, refusalOf } from '../../../src/proxy/refusal-reply.js';
import { challengeOf, REASON_CODES } from '../../../src/verify/reasons.js';

const route = (senderConstraint: 'none' | 'dpop' | 'mtls' | 'any') => ({
  senderConstraint,
  dpopAlgs: 'ES256 PS256',
});
const ctx = (
  scheme: 'bearer' | 'dpop' | undefined,
  c: 'none' | 'dpop' | 'mtls' | 'any',
): ChallengeContext => ({
  scheme,
  route: route(c),
});
const header = (reason: Parameters<typeof refusalOf>[0], context?: ChallengeContext) =>
  refusalOf(reason, undefined, undefined, context).headers['www-authenticate'];

test('no credentials: what the route takes, no error', () => {
  assert.equal(header('missing_token', ctx(undefined, 'none')), 'Bearer realm="provgate"');
  assert.equal(header('missing_token', ctx(undefined, 'mtls')), 'Bearer realm="provgate"');
  assert.equal(header('missing_token', ctx(undefined, 'dpop')), 'DPoP algs="ES256 PS256"');
  assert.equal(
    header('missing_token', ctx(undefined, 'any')),
    'Bearer realm="provgate", DPoP algs="ES256 PS256"',
  );
});

test('a token refusal carries its error on the scheme the request used', () => {
  assert.equal(
    header('bad_signature', ctx('bearer', 'any')),
    'Bearer error="invalid_token", error_description="bad_signature"',
  );
  assert.equal(
    header('bad_signature', ctx('dpop', 'none')),
    'DPoP error="invalid_token", error_description="bad_signature", algs="ES256 PS256"',
  );
  assert.equal(
    header('insufficient_scope', ctx('dpop', 'dpop')),
    'DPoP error="insufficient_scope", error_description="insufficient_scope", algs="ES256 PS256"',
  );
});

test('proof, nonce, binding and certificate reasons have their own challenges', () => {
  assert.equal(
    header('dpop_proof_invalid', ctx('dpop', 'dpop')),
    'DPoP error="invalid_dpop_proof", error_description="dpop_proof_invalid", algs="ES256 PS256"',
  );
  assert.equal(
    header('dpop_nonce_required', ctx('dpop', 'none')),
    'DPoP error="use_dpop_nonce", error_description="dpop_nonce_required", algs="ES256 PS256"',
  );
  assert.equal(
    header('dpop_bound_as_bearer', ctx('bearer', 'none')),
    'DPoP error="invalid_token", error_description="dpop_bound_as_bearer", algs="ES256 PS256"',
  );
  assert.equal(
    header('certificate_mismatch', ctx('bearer', 'mtls')),
    'Bearer error="invalid_token", error_description="certificate_mismatch"',
  );
  assert.equal(
    header('token_not_bound', ctx('bearer', 'mtls')),
    'Bearer error="invalid_token", error_description="token_not_bound"',
  );
  assert.equal(
    header('token_not_bound', ctx('bearer', 'none')),
    'Bearer error="invalid_token", error_description="token_not_bound", DPoP error="invalid_token", error_description="token_not_bound", algs="ES256 PS256"',
  );
  assert.equal(
    header('ambiguous_credentials', ctx(undefined, 'any')),
    'Bearer error="invalid_request", error_description="ambiguous_credentials", DPoP error="invalid_request", error_description="ambiguous_credentials", algs="ES256 PS256"',
  );
  assert.equal(header('dpop_replay_unavailable', ctx('dpop', 'dpop')), undefined);
});

test('the nonce refusal carries DPoP-Nonce, no-store and the error in the body too', () => {
  const r = refusalOf('dpop_nonce_required', undefined, { 'dpop-nonce': 'n0nce' }, ctx('dpop', 'dpop'));
  assert.equal(r.status, 401);
  assert.equal(r.headers['dpop-nonce'], 'n0nce');
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.deepEqual(JSON.parse(r.body), { error: 'use_dpop_nonce', reason: 'dpop_nonce_required' });
  const ambiguous = refusalOf('ambiguous_credentials', undefined, undefined, ctx(undefined, 'any'));
  assert.equal(ambiguous.status, 400);
});

test('refusals with DPoP challenges are built once per reason, scheme and route setting', () => {
  assert.equal(
    refusalOf('dpop_proof_invalid', undefined, undefined, ctx('dpop', 'dpop')),
    refusalOf('dpop_proof_invalid', undefined, undefined, ctx('dpop', 'dpop')),
  );
  assert.equal(
    refusalOf('bad_signature', undefined, undefined, ctx('bearer', 'none')),
    refusalOf('bad_signature'),
  );
});

test('every reason has a challenge kind', () => {
  for (const reason of REASON_CODES)
    assert.ok(
      ['offer', 'token', 'dpop', 'bearer', 'route', 'both', 'none'].includes(challengeOf(reason)),
      reason,
    );
});
