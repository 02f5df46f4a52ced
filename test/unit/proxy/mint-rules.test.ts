import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { mintViolation } from '../../../src/proxy/mint-rules.js';
import type { VerifiedToken } from '../../../src/verify/verify-token.js';
import { NOW_S, type TokenFixture, tokenFixture } from '../../helpers/verified-token.js';

const SETTINGS = { maxDepth: 1, maxResponseBytes: 65536, scopesMustNarrow: true };
const OWA = new Set(['owa']);
let fx: TokenFixture;
let parent: VerifiedToken;

before(async () => {
  fx = await tokenFixture();
  parent = await fx.verified({ jti: 'p-1', exp: NOW_S + 600, scp: 'Mail.Read Mail.Send' });
});

const child = (claims: Record<string, unknown>, issuer: 'owa' | 'enterprise' = 'owa') =>
  fx.verified({ jti: `c-${Math.random()}`, exp: NOW_S + 600, scp: 'Mail.Read', ...claims }, issuer);

test('a child for the same subject, no longer-lived, narrower, with a jti, of a mint issuer: no violation', async () => {
  assert.equal(mintViolation(await child({}), parent, OWA, 0, SETTINGS), undefined);
  assert.equal(mintViolation(await child({ exp: NOW_S + 599 }), parent, OWA, 0, SETTINGS), undefined);
});

test('each rule', async () => {
  const rule = async (claims: Record<string, unknown>, issuer: 'owa' | 'enterprise' = 'owa', depth = 0) =>
    mintViolation(await child(claims, issuer), parent, OWA, depth, SETTINGS)?.rule;
  assert.equal(await rule({ jti: undefined }), 'jti');
  assert.equal(await rule({ jti: 'x'.repeat(257) }), 'jti');
  assert.equal(await rule({}, 'enterprise'), 'issuer');
  assert.equal(await rule({ sub: 'mallory' }), 'subject');
  assert.equal(await rule({ exp: NOW_S + 601 }), 'lifetime');
  assert.equal(await rule({ scp: 'Mail.Read Mail.ReadWrite' }), 'scopes');
  assert.equal(await rule({ scp: undefined, scope: 'Mail.Send Calendars.Read' }), 'scopes');
  assert.equal(await rule({}, 'owa', 1), 'depth');
});

test('scopes may widen only when scopesMustNarrow is off; depth follows maxDepth', async () => {
  const wide = await child({ scp: 'Mail.Read Mail.ReadWrite' });
  assert.equal(mintViolation(wide, parent, OWA, 0, { ...SETTINGS, scopesMustNarrow: false }), undefined);
  assert.equal(mintViolation(await child({}), parent, OWA, 1, { ...SETTINGS, maxDepth: 2 }), undefined);
});
