import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { RevocationMirror } from '../../../src/revocation/revocation-mirror.js';
import { makeRecord, type RevocationSpec } from '../../../src/revocation/revocation-record.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { checkRevocations } from '../../../src/verify/check-revocations.js';
import { NOW_MS, NOW_S, type TokenFixture, tokenFixture } from '../../helpers/verified-token.js';

let tokens: TokenFixture;
before(async () => {
  tokens = await tokenFixture();
});

let mirror: RevocationMirror;
beforeEach(() => {
  mirror = new RevocationMirror();
});

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthFailure, String(err));
    return err.reason;
  }
  return undefined;
}

const revoke = (spec: RevocationSpec): void =>
  mirror.apply(makeRecord(spec, { by: 'test', source: 'api', now: NOW_MS, clockSkewSeconds: 0 }));
const instant = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();

describe('checkRevocations', () => {
  test('nothing revoked: passes, and so does a token whose revocations are someone else’s', async () => {
    const token = await tokens.verified({ sub: 'alice', jti: 'jti-alice' });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      undefined,
    );
    revoke({ kind: 'token', issuer: 'enterprise', jti: 'jti-bob' });
    revoke({ kind: 'subject', issuer: 'enterprise', sub: 'bob', before: instant(NOW_S) });
    revoke({ kind: 'issuer', issuer: 'owa', before: instant(NOW_S) });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      undefined,
    );
  });

  test('token_revoked: its jti, for as long as the revocation lasts', async () => {
    const token = await tokens.verified({ jti: 'jti-1' });
    revoke({ kind: 'token', issuer: 'enterprise', jti: 'jti-1', exp: NOW_S + 1 });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      'token_revoked',
    );
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS + 1000)),
      undefined,
    );
  });

  test('subject_revoked: tokens of the subject issued before the instant, not after', async () => {
    const token = await tokens.verified({ sub: 'carol' }); // issued at NOW_S - 60
    revoke({ kind: 'subject', issuer: 'enterprise', sub: 'carol', before: instant(NOW_S - 60) });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      undefined,
      'iat equal to the instant',
    );
    revoke({ kind: 'subject', issuer: 'enterprise', sub: 'carol', before: instant(NOW_S - 59) });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      'subject_revoked',
    );
  });

  test('issuer_revoked: every token of the issuer issued before the instant', async () => {
    const token = await tokens.verified({ sub: 'dave' });
    revoke({ kind: 'issuer', issuer: 'enterprise', before: instant(NOW_S) });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      'issuer_revoked',
    );
  });

  test('the most specific revocation names the refusal: token, then subject, then issuer', async () => {
    const token = await tokens.verified({ sub: 'erin', jti: 'jti-erin' });
    revoke({ kind: 'issuer', issuer: 'enterprise', before: instant(NOW_S) });
    revoke({ kind: 'subject', issuer: 'enterprise', sub: 'erin', before: instant(NOW_S) });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      'subject_revoked',
    );
    revoke({ kind: 'token', issuer: 'enterprise', jti: 'jti-erin' });
    assert.equal(
      reasonOf(() => checkRevocations(token, mirror, NOW_MS)),
      'token_revoked',
    );
  });
});
