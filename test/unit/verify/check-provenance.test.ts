import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { checkProvenance } from '../../../src/verify/check-provenance.js';
import { compiledRoute, type TokenFixture, tokenFixture } from '../../helpers/verified-token.js';

let tokens: TokenFixture;
before(async () => {
  tokens = await tokenFixture();
});

function refusalOf(fn: () => void): AuthFailure | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthFailure, String(err));
    return err;
  }
  return undefined;
}

describe('checkProvenance', () => {
  test('a token of an accepted issuer, for this audience, passes', async () => {
    const token = await tokens.verified();
    assert.equal(
      refusalOf(() => checkProvenance(token, compiledRoute())),
      undefined,
    );
    // One of several audiences, and one of several in the token, is enough.
    const multi = await tokens.verified({ aud: ['https://other.example.test', 'https://mail.example.test'] });
    const route = compiledRoute({ audience: ['https://calendar.example.test', 'https://mail.example.test'] });
    assert.equal(
      refusalOf(() => checkProvenance(multi, route)),
      undefined,
    );
  });

  test('audience_mismatch: another audience, or none at all', async () => {
    const other = await tokens.verified({ aud: 'https://files.example.test' });
    const none = await tokens.verified({ aud: undefined });
    for (const token of [other, none])
      assert.equal(refusalOf(() => checkProvenance(token, compiledRoute()))?.reason, 'audience_mismatch');
  });

  test('issuer_not_accepted for an identity provider the route does not list', async () => {
    const token = await tokens.verified();
    const route = compiledRoute({ issuers: ['owa'] });
    assert.equal(refusalOf(() => checkProvenance(token, route))?.reason, 'issuer_not_accepted');
  });

  test('resource_minted_token for a resource issuer the route does not list', async () => {
    const minted = await tokens.verified({}, 'owa');
    const failure = refusalOf(() => checkProvenance(minted, compiledRoute()));
    assert.equal(failure?.reason, 'resource_minted_token');
    // The detail names the token for the event (severity is raised on minting routes by the caller).
    assert.equal(failure?.detail.issuerId, 'owa');
    assert.equal(failure?.detail.kid, 'owa-1');
    assert.equal(failure?.detail.alg, 'ES256');
    assert.equal(failure?.detail.sub, 'alice');
    assert.equal(failure?.detail.jti, minted.claims.jti);
  });

  test('delegation_not_allowed for an act claim, unless the route allows delegation', async () => {
    const delegated = await tokens.verified({ act: { sub: 'mail-service' } });
    assert.equal(
      refusalOf(() => checkProvenance(delegated, compiledRoute()))?.reason,
      'delegation_not_allowed',
    );
    assert.equal(
      refusalOf(() => checkProvenance(delegated, compiledRoute({ allowDelegation: true }))),
      undefined,
    );
  });

  test('the audience is checked first: a foreign token for another audience is audience_mismatch', async () => {
    const minted = await tokens.verified({ aud: 'https://files.example.test', act: { sub: 'x' } }, 'owa');
    assert.equal(refusalOf(() => checkProvenance(minted, compiledRoute()))?.reason, 'audience_mismatch');
  });
});
