import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { type DevKeyPair, generateDevKey, jwksOf, mintToken } from '../../../src/demo/dev-keys.js';
import { IssuerRegistry, keySetOf } from '../../../src/keys/issuer-registry.js';
import { importJwks } from '../../../src/keys/load-jwks.js';
import { RevocationMirror } from '../../../src/revocation/revocation-mirror.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { checkClaims, scopesOf } from '../../../src/verify/check-claims.js';
import type { Claims } from '../../../src/verify/parse-token.js';
import { TokenVerifier } from '../../../src/verify/verify-token.js';
import { compiledIssuer, ENTERPRISE_ISS as ISS } from '../../helpers/compiled-issuer.js';

// A fixed "now": 2024-06-01T00:00:00Z. No test sleeps; the clock is a number.
const NOW_S = 1_717_200_000;
const NOW_MS = NOW_S * 1000;

const valid = (extra: Record<string, unknown> = {}): Claims => ({
  iss: ISS,
  sub: 'alice',
  iat: NOW_S - 10,
  exp: NOW_S + 3600,
  ...extra,
});

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthFailure, String(err));
    return err.reason;
  }
  return undefined;
}

describe('checkClaims with an injected clock', () => {
  test('a current token passes', () => {
    assert.equal(
      reasonOf(() => checkClaims(valid(), compiledIssuer(), NOW_MS)),
      undefined,
    );
  });

  test('exp is honoured with the issuer clock skew, to the millisecond', () => {
    const claims = valid({ exp: NOW_S - 60 });
    // now == exp + skew: expired; one millisecond earlier: still accepted.
    assert.equal(
      reasonOf(() => checkClaims(claims, compiledIssuer(), NOW_MS)),
      'token_expired',
    );
    assert.equal(
      reasonOf(() => checkClaims(claims, compiledIssuer(), NOW_MS - 1)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims(valid({ exp: NOW_S - 1 }), compiledIssuer({ clockSkewSeconds: 0 }), NOW_MS)),
      'token_expired',
    );
  });

  test('nbf or iat in the future beyond the skew is token_not_yet_valid', () => {
    assert.equal(
      reasonOf(() => checkClaims(valid({ nbf: NOW_S + 61 }), compiledIssuer(), NOW_MS)),
      'token_not_yet_valid',
    );
    assert.equal(
      reasonOf(() => checkClaims(valid({ nbf: NOW_S + 60 }), compiledIssuer(), NOW_MS)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims(valid({ iat: NOW_S + 61, exp: NOW_S + 7200 }), compiledIssuer(), NOW_MS)),
      'token_not_yet_valid',
    );
  });

  test('exp - iat above maxTokenLifetimeSeconds is token_lifetime_exceeded', () => {
    const oneDay = compiledIssuer({ maxTokenLifetimeSeconds: 86_400 });
    assert.equal(
      reasonOf(() => checkClaims(valid({ iat: NOW_S, exp: NOW_S + 86_401 }), oneDay, NOW_MS)),
      'token_lifetime_exceeded',
    );
    assert.equal(
      reasonOf(() => checkClaims(valid({ iat: NOW_S, exp: NOW_S + 86_400 }), oneDay, NOW_MS)),
      undefined,
    );
    // Without the setting, a year-long token is only the issuer's business.
    assert.equal(
      reasonOf(() => checkClaims(valid({ iat: NOW_S, exp: NOW_S + 365 * 86_400 }), compiledIssuer(), NOW_MS)),
      undefined,
    );
  });

  test('sub, exp and iat are required: claim_missing', () => {
    for (const name of ['sub', 'exp', 'iat']) {
      const claims: Record<string, unknown> = { ...valid() };
      delete claims[name];
      assert.equal(
        reasonOf(() => checkClaims(claims as Claims, compiledIssuer(), NOW_MS)),
        'claim_missing',
        name,
      );
    }
  });

  test('an empty sub is a missing sub: claim_missing, never an empty x-auth-subject', () => {
    assert.equal(
      reasonOf(() => checkClaims(valid({ sub: '' }), compiledIssuer(), NOW_MS)),
      'claim_missing',
    );
  });

  test('tenants: a tid outside the list, or no tid at all, is tenant_not_allowed', () => {
    const tenants = compiledIssuer({ tenants: new Set(['tid-a', 'tid-b']) });
    assert.equal(
      reasonOf(() => checkClaims(valid({ tid: 'tid-b' }), tenants, NOW_MS)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims(valid({ tid: 'tid-z' }), tenants, NOW_MS)),
      'tenant_not_allowed',
    );
    assert.equal(
      reasonOf(() => checkClaims(valid(), tenants, NOW_MS)),
      'tenant_not_allowed',
    );
    // Where no tenants are configured, tid is not looked at.
    assert.equal(
      reasonOf(() => checkClaims(valid({ tid: 'anything' }), compiledIssuer(), NOW_MS)),
      undefined,
    );
  });

  test('the order inside the claim step is fixed: expiry before presence', () => {
    const claims: Record<string, unknown> = { ...valid({ exp: NOW_S - 3600 }) };
    delete claims.sub;
    assert.equal(
      reasonOf(() => checkClaims(claims as Claims, compiledIssuer(), NOW_MS)),
      'token_expired',
    );
  });
});

describe('scopesOf', () => {
  test('reads scp (string or list) and scope, drops empty entries', () => {
    assert.deepEqual([...scopesOf({ scp: 'Mail.Read  Mail.Send' })], ['Mail.Read', 'Mail.Send']);
    assert.deepEqual([...scopesOf({ scp: ['Mail.Read', 'Files.Read'] })], ['Mail.Read', 'Files.Read']);
    assert.deepEqual([...scopesOf({ scp: 'a', scope: 'b a' })], ['a', 'b']);
    assert.equal(scopesOf({}).size, 0);
  });
});

describe('signature before claims (TokenVerifier with an injected clock)', () => {
  let key: DevKeyPair;
  let impostor: DevKeyPair;
  let now = NOW_MS;
  let verifier: TokenVerifier;

  before(async () => {
    key = await generateDevKey('ES256', 'ent-es-1');
    impostor = await generateDevKey('ES256', 'ent-es-1');
    const imported = await importJwks(jwksOf([key]), 'enterprise', {}, 'issuers.enterprise.keys');
    assert.deepEqual(imported.problems, []);
    const registry = new IssuerRegistry([compiledIssuer({ keys: keySetOf(imported.keys) })]);
    verifier = new TokenVerifier({
      registry,
      revocations: new RevocationMirror(),
      clock: () => now,
      cache: { enabled: true, maxEntries: 100, maxBytes: 1_000_000 },
      forgeryChecksPerSecond: 10,
    });
  });

  const mint = (signer: DevKeyPair, claims: JWTPayload) =>
    mintToken(signer.privateJwk, { iss: ISS, sub: 'alice', ...claims }, { now: NOW_S - 7200 });

  const verifyReason = (token: string) => reasonOf(() => verifier.verify(token));

  test('a forged token with an expired exp gets bad_signature, not token_expired', async () => {
    now = NOW_MS;
    const expired = { iat: NOW_S - 7200, exp: NOW_S - 3600 };
    assert.equal(verifyReason(await mint(impostor, expired)), 'bad_signature');
    // The same claims honestly signed: now the claim reason applies.
    assert.equal(verifyReason(await mint(key, expired)), 'token_expired');
  });

  test('a forged token with every claim wrong still gets bad_signature', async () => {
    now = NOW_MS;
    const hopeless = { iat: NOW_S + 9999, nbf: NOW_S + 9999, exp: NOW_S - 1, sub: undefined };
    assert.equal(verifyReason(await mint(impostor, hopeless)), 'bad_signature');
  });

  test('a payload edited after signing gets bad_signature even when the edit expires it', async () => {
    now = NOW_MS;
    const token = await mint(key, { iat: NOW_S - 60, exp: NOW_S + 3600 });
    const [h, , s] = token.split('.');
    const edited = Buffer.from(JSON.stringify({ iss: ISS, sub: 'alice', iat: 1, exp: 2 })).toString(
      'base64url',
    );
    assert.equal(verifyReason(`${h}.${edited}.${s}`), 'bad_signature');
  });

  test('validly signed, but with an empty sub, iss, jti or tid: refused as if missing or malformed', async () => {
    now = NOW_MS;
    const times = { iat: NOW_S - 60, exp: NOW_S + 600 };
    // sub is required (claim_missing when absent); iss chooses the issuer (unknown_issuer when
    // absent); jti and tid may be absent, so an empty one is a malformed claim, not an absent one.
    assert.equal(verifyReason(await mint(key, { ...times, sub: '' })), 'claim_missing');
    assert.equal(verifyReason(await mint(key, { ...times, iss: '' })), 'unknown_issuer');
    assert.equal(verifyReason(await mint(key, { ...times, jti: '' })), 'malformed_token');
    assert.equal(verifyReason(await mint(key, { ...times, tid: '' })), 'malformed_token');
    // The same claims with a value pass: the refusals are about emptiness only.
    assert.equal(verifyReason(await mint(key, { ...times, jti: 'j-1', tid: 't' })), undefined);
  });

  test('a cached token is held to the clock again: it expires on a cache hit', async () => {
    now = NOW_MS;
    const token = await mint(key, { iat: NOW_S - 60, exp: NOW_S + 600 });
    assert.equal(verifyReason(token), undefined);
    assert.equal(verifyReason(token), undefined);
    const hitsBefore = verifier.stats.hits;
    now = (NOW_S + 600 + 60) * 1000;
    assert.equal(verifyReason(token), 'token_expired');
    assert.equal(verifier.stats.hits, hitsBefore + 1, 'the refusal came from the cache-hit path');
  });
});
