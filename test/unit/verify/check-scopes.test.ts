import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { checkScopes } from '../../../src/verify/check-scopes.js';
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

describe('checkScopes', () => {
  const route = compiledRoute({ scopes: ['Mail.Read', 'Mail.Send'] });

  test('every required scope present, from scp or scope: passes', async () => {
    const scp = await tokens.verified({ scp: 'Mail.Send Mail.Read Calendars.Read' });
    const scope = await tokens.verified({ scope: 'Mail.Read Mail.Send' });
    for (const token of [scp, scope])
      assert.equal(
        refusalOf(() => checkScopes(token, route)),
        undefined,
      );
  });

  test('a route that requires none lets a token without scopes through', async () => {
    const token = await tokens.verified();
    assert.equal(
      refusalOf(() => checkScopes(token, compiledRoute())),
      undefined,
    );
  });

  test('insufficient_scope names the first missing scope for the operator', async () => {
    const token = await tokens.verified({ scp: 'Mail.Read' });
    const failure = refusalOf(() => checkScopes(token, route));
    assert.equal(failure?.reason, 'insufficient_scope');
    assert.equal(failure?.detail.note, 'missing scope Mail.Send');
    assert.equal(failure?.detail.issuerId, 'enterprise');
    assert.equal(failure?.detail.sub, 'alice');
  });
});
