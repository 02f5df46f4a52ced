import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { generateDevKey, jwksOf, mintToken } from '../../../src/demo/dev-keys.js';
import { IssuerRegistry, keySetOf } from '../../../src/keys/issuer-registry.js';
import { importJwks } from '../../../src/keys/load-jwks.js';
import { RevocationMirror } from '../../../src/revocation/revocation-mirror.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { CacheAdmission } from '../../../src/verify/cache-admission.js';
import { tokenKey } from '../../../src/verify/token-key.js';
import { TokenVerifier } from '../../../src/verify/verify-token.js';
import { compiledIssuer, ENTERPRISE_ISS } from '../../helpers/compiled-issuer.js';
import { NOW_MS, NOW_S } from '../../helpers/verified-token.js';

// Distinct tails, as distinct signatures give real tokens; admission takes a token's cache key.
const tokenNo = (n: number) => tokenKey(`header.payload.${n.toString(36).padStart(20, 'x')}`);
const watched = tokenKey('the.watched.token-0000000000');

describe('CacheAdmission', () => {
  test('second-sighting: a token is admitted the second time it is offered, not the first', () => {
    const admission = new CacheAdmission('second-sighting', 100);
    assert.equal(admission.admit(tokenNo(1)), false);
    assert.equal(admission.admit(tokenNo(2)), false);
    assert.equal(admission.admit(tokenNo(1)), true);
    assert.equal(admission.admit(tokenNo(2)), true);
    assert.equal(admission.firstSightings, 2);
  });

  test('first-sighting admits every token at once and keeps no doorkeeper', () => {
    const admission = new CacheAdmission('first-sighting', 100);
    for (let n = 0; n < 10; n++) assert.equal(admission.admit(tokenNo(n)), true);
    assert.equal(admission.firstSightings, 0);
  });

  test('a first sighting is remembered for at least `entries` later ones, and then forgotten', () => {
    const admission = new CacheAdmission('second-sighting', 50);
    assert.equal(admission.admit(watched), false);
    for (let n = 0; n < 50; n++) assert.equal(admission.admit(tokenNo(n)), false);
    assert.equal(admission.admit(watched), true, 'still remembered');

    const forgetful = new CacheAdmission('second-sighting', 50);
    assert.equal(forgetful.admit(watched), false);
    for (let n = 0; n < 150; n++) forgetful.admit(tokenNo(n));
    assert.equal(forgetful.admit(watched), false, 'bounded: forgotten, a first sighting again');
  });

  test('clear forgets every first sighting', () => {
    const admission = new CacheAdmission('second-sighting', 10);
    admission.admit(tokenNo(1));
    admission.clear();
    assert.equal(admission.admit(tokenNo(1)), false);
  });
});

describe('verification.cache.admission', () => {
  const parse = (cache: object) =>
    configSchema.safeParse({
      issuers: {
        e: {
          issuer: ENTERPRISE_ISS,
          role: 'identity-provider',
          keys: { file: 'e.json' },
          algorithms: ['ES256'],
        },
      },
      routes: [{ name: 'r', prefix: '/r', upstream: 'http://127.0.0.1:1', audience: 'a', issuers: ['e'] }],
      verification: { cache },
    });

  test('defaults to second-sighting; first-sighting is the other choice; anything else is refused with its path', () => {
    const defaults = parse({});
    assert.ok(defaults.success);
    assert.equal(defaults.data.verification.cache.admission, 'second-sighting');
    const first = parse({ admission: 'first-sighting' });
    assert.ok(first.success);
    assert.equal(first.data.verification.cache.admission, 'first-sighting');
    const wrong = parse({ admission: 'always' });
    assert.equal(wrong.success, false);
    assert.deepEqual(wrong.error.issues[0]?.path, ['verification', 'cache', 'admission']);
  });
});

describe('TokenVerifier with second-sighting admission', () => {
  let mint: (n: number) => Promise<string>;
  let verifierOf: (maxEntries: number) => TokenVerifier;

  before(async () => {
    const key = await generateDevKey('ES256', 'ent-1');
    const imported = await importJwks(jwksOf([key]), 'enterprise', {}, 'issuers.enterprise.keys');
    const registry = new IssuerRegistry([compiledIssuer({ keys: keySetOf(imported.keys) })]);
    mint = (n) =>
      mintToken(key.privateJwk, { iss: ENTERPRISE_ISS, sub: `user-${n}`, aud: 'a' }, { now: NOW_S - 60 });
    verifierOf = (maxEntries) =>
      new TokenVerifier({
        registry,
        revocations: new RevocationMirror(),
        clock: () => NOW_MS,
        cache: { enabled: true, maxEntries, maxBytes: 1 << 24, admission: 'second-sighting' },
        forgeryChecksPerSecond: 0,
      });
  });

  test('tokens seen once never enter the cache; a token seen twice does, and hits from then on', async () => {
    const verifier = verifierOf(20);
    const once = await Promise.all(Array.from({ length: 60 }, (_, n) => mint(n)));
    for (const token of once) verifier.verify(token, false);
    assert.equal(verifier.stats.size, 0, 'a flood of one-time tokens leaves the cache empty');
    assert.equal(verifier.stats.firstSightings, 60);

    const returning = await mint(1000);
    const first = verifier.verify(returning, false);
    const second = verifier.verify(returning, false);
    assert.notEqual(first, second, 'the second sighting is verified again');
    assert.equal(verifier.stats.size, 1);
    const hits = verifier.stats.hits;
    assert.equal(verifier.verify(returning, false), second, 'then it is served from the cache');
    assert.equal(verifier.stats.hits, hits + 1);
  });

  test('a flood of one-time tokens does not push a returning token out of a full cache', async () => {
    const verifier = verifierOf(5);
    const regulars = await Promise.all(Array.from({ length: 5 }, (_, n) => mint(2000 + n)));
    for (const token of [...regulars, ...regulars]) verifier.verify(token, false);
    assert.equal(verifier.stats.size, 5);
    for (const token of await Promise.all(Array.from({ length: 40 }, (_, n) => mint(3000 + n)))) {
      verifier.verify(token, false);
    }
    const hits = verifier.stats.hits;
    for (const token of regulars) verifier.verify(token, false);
    assert.equal(verifier.stats.hits, hits + 5, 'every regular is still cached');
  });

  test('a refused token enters the refusal cache on its second sighting too, with the same reason', async () => {
    const verifier = verifierOf(5);
    const honest = await mint(4000);
    const forged = `${honest.slice(0, honest.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    const reasonOf = (token: string) => {
      try {
        verifier.verify(token, false);
        return 'ok';
      } catch (err) {
        assert.ok(err instanceof AuthFailure);
        return err.reason;
      }
    };
    for (let i = 0; i < 3; i++) assert.equal(reasonOf(forged), 'bad_signature');
    assert.equal(verifier.stats.refusalHits, 1, 'checked twice, then refused from the cache');
  });
});
