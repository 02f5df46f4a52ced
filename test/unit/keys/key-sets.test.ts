import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type DevKeyPair, generateDevKey, jwksOf, mintToken } from '../../../src/demo/dev-keys.js';
import { buildKeySet, type KeySetContext, UnusableKeySetError } from '../../../src/keys/build-key-set.js';
import { maxAgeOf } from '../../../src/keys/fetch-json.js';
import { compileIssuerTemplate, type IssuerTemplate, tenantOf } from '../../../src/keys/issuer-matcher.js';
import { IssuerRegistry, type KeySet, UNLOADED_KEY_SET } from '../../../src/keys/issuer-registry.js';
import { type KeyRefetcher, KeyRefetchPending } from '../../../src/keys/key-refetch.js';
import { RevocationMirror } from '../../../src/revocation/revocation-mirror.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { TokenVerifier } from '../../../src/verify/verify-token.js';
import { compiledIssuer, ENTERPRISE_ISS as ISS } from '../../helpers/compiled-issuer.js';

const NOW = Date.parse('2024-06-01T00:00:00Z');
let a: DevKeyPair;
let b: DevKeyPair;

before(async () => {
  a = await generateDevKey('ES256', 'a');
  b = await generateDevKey('ES256', 'b');
});

const context = (grace = 0): KeySetContext => ({
  issuerId: 'enterprise',
  binding: { issuer: ISS, shared: false },
  windows: {},
  path: 'issuers.enterprise.keys.url',
  removedKeyGraceMs: grace * 1000,
  quarantine: new Map(),
});

describe('issuer templates', () => {
  const template = compileIssuerTemplate('https://login.example.test/{tenantid}/v2.0') as IssuerTemplate;

  test('match one plain segment and name it', () => {
    assert.equal(tenantOf(template, 'https://login.example.test/9188040d-6c67/v2.0'), '9188040d-6c67');
    assert.equal(
      tenantOf(template, 'https://login.example.test/contoso.onmicrosoft.com/v2.0'),
      'contoso.onmicrosoft.com',
    );
    for (const iss of [
      'https://login.example.test//v2.0',
      'https://login.example.test/a/b/v2.0',
      'https://login.example.test/.hidden/v2.0',
      'https://login.example.test/a b/v2.0',
      'https://login.example.testX/a/v2.0',
      'https://login.example.test/a/v2.0x',
    ]) {
      assert.equal(tenantOf(template, iss), undefined, iss);
    }
  });

  test('characters that would mean something in a regular expression are plain text', () => {
    const dotted = compileIssuerTemplate('https://sts.example.test/{tenantid}/') as IssuerTemplate;
    assert.equal(tenantOf(dotted, 'https://sts.example.test/t1/'), 't1');
    assert.equal(tenantOf(dotted, 'https://stsXexample.test/t1/'), undefined);
  });

  test('a placeholder that is not a whole path segment is refused', () => {
    for (const issuer of [
      'https://login.example.test/pre{tenantid}/v2.0',
      'https://{tenantid}/v2.0',
      'https://login.example.test/{tenantid}x/v2.0',
      'https://login.example.test/{tenantid}/{tenantid}',
      'https://login.example.test/{tid}/v2.0',
    ]) {
      assert.equal(typeof compileIssuerTemplate(issuer), 'string', issuer);
    }
  });
});

test('Cache-Control: max-age is read; no-store and no-cache mean ask again soon', () => {
  assert.equal(maxAgeOf(null), undefined);
  assert.equal(maxAgeOf('public, max-age=21600, must-revalidate'), 21600);
  assert.equal(maxAgeOf('no-store'), 0);
  assert.equal(maxAgeOf('private, no-cache'), 0);
  assert.equal(maxAgeOf('max-age=abc'), undefined);
});

describe('building the next key set', () => {
  test('an unchanged key keeps its entry object, so verified tokens stay cached across refreshes', async () => {
    const first = await buildKeySet(jwksOf([a, b]), context(), UNLOADED_KEY_SET, NOW);
    const second = await buildKeySet(jwksOf([a, b]), context(), first.set, NOW + 1000);
    assert.equal(second.set.byKid.get('a'), first.set.byKid.get('a'));
    assert.equal(second.set.byKid.get('b'), first.set.byKid.get('b'));
    assert.deepEqual([second.added, second.removed], [[], []]);
    assert.deepEqual(first.added, ['a', 'b']);
  });

  test('a removed key is dropped at once without grace, and serves out its grace otherwise', async () => {
    const first = await buildKeySet(jwksOf([a, b]), context(), UNLOADED_KEY_SET, NOW);
    const dropped = await buildKeySet(jwksOf([b]), context(0), first.set, NOW);
    assert.equal(dropped.set.byKid.has('a'), false);
    assert.deepEqual(dropped.removed, ['a']);

    const retiring = await buildKeySet(jwksOf([b]), context(60), first.set, NOW);
    assert.equal(retiring.set.byKid.get('a')?.removedAfter, NOW + 60_000);
    // A later refresh neither restarts nor reports the grace; after it the key is gone.
    const later = await buildKeySet(jwksOf([b]), context(60), retiring.set, NOW + 30_000);
    assert.equal(later.set.byKid.get('a'), retiring.set.byKid.get('a'));
    assert.deepEqual(later.removed, []);
    const gone = await buildKeySet(jwksOf([b]), context(60), later.set, NOW + 60_000);
    assert.equal(gone.set.byKid.has('a'), false);
    // Published again, the key is simply in force again.
    const back = await buildKeySet(jwksOf([a, b]), context(60), retiring.set, NOW + 1000);
    assert.equal(back.set.byKid.get('a')?.removedAfter, undefined);
  });

  test('a published private key, a kid twice or an empty set refuse the whole set', async () => {
    const cases: [unknown, RegExp][] = [
      [{ keys: [a.publicJwk, b.privateJwk] }, /private key material/],
      [{ keys: [a.publicJwk, { ...b.publicJwk, kid: 'a' }] }, /kid a appears twice/],
      [{ keys: [] }, /no usable key/],
      [{ keys: [{ ...a.publicJwk, use: 'enc' }] }, /no usable key/],
      [[a.publicJwk], /not a JWK set/],
    ];
    for (const [doc, message] of cases) {
      await assert.rejects(buildKeySet(doc, context(), UNLOADED_KEY_SET, NOW), (err: unknown) => {
        assert.ok(err instanceof UnusableKeySetError);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  test('in an unshared set a key naming another issuer is skipped with a warning', async () => {
    const built = await buildKeySet(
      { keys: [a.publicJwk, { ...b.publicJwk, issuer: 'https://elsewhere.example.test' }] },
      context(),
      UNLOADED_KEY_SET,
      NOW,
    );
    assert.deepEqual([...built.set.byKid.keys()], ['a']);
    assert.match(
      built.warnings.join('\n'),
      /kid b\): names issuer https:\/\/elsewhere\.example\.test, not ours/,
    );
  });
});

describe('the key step stays synchronous for a known kid', () => {
  async function verifierWith(keys: KeySet) {
    const issuer = compiledIssuer({ keys });
    const calls: string[] = [];
    let pending: Promise<void> | undefined = Promise.resolve();
    const keyRefetch: KeyRefetcher = {
      refetchFor: (id) => {
        calls.push(id);
        return pending;
      },
      cooldownLeftSeconds: () => 7,
    };
    const verifier = new TokenVerifier({
      registry: new IssuerRegistry([issuer]),
      revocations: new RevocationMirror(),
      clock: () => NOW,
      cache: { enabled: false, maxEntries: 10, maxBytes: 1 << 20 },
      forgeryChecksPerSecond: 0,
      keyRefetch,
    });
    return { verifier, calls, stopRefetching: () => (pending = undefined) };
  }
  const claims = { iss: ISS, sub: 'alice', aud: 'x' };

  test('known kid: verified synchronously, no refetch asked for', async () => {
    const built = await buildKeySet(jwksOf([a]), context(), UNLOADED_KEY_SET, NOW);
    const { verifier, calls } = await verifierWith(built.set);
    const token = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    assert.equal(verifier.verify(token).key.kid, 'a');
    assert.deepEqual(calls, []);
  });

  test('unknown kid: a refetch signal first, unknown_key on the retry', async () => {
    const built = await buildKeySet(jwksOf([a]), context(), UNLOADED_KEY_SET, NOW);
    const { verifier, calls } = await verifierWith(built.set);
    const token = await mintToken(b.privateJwk, claims, { now: NOW / 1000 });
    assert.throws(() => verifier.verify(token), KeyRefetchPending);
    assert.deepEqual(calls, ['enterprise']);
    assert.throws(
      () => verifier.verify(token, false),
      (err: unknown) => {
        return err instanceof AuthFailure && err.reason === 'unknown_key';
      },
    );
  });

  test('a set that never loaded: keys_unavailable with a Retry-After once no refetch is allowed', async () => {
    const { verifier, stopRefetching } = await verifierWith(UNLOADED_KEY_SET);
    const token = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    stopRefetching();
    assert.throws(
      () => verifier.verify(token),
      (err: unknown) => {
        return (
          err instanceof AuthFailure &&
          err.reason === 'keys_unavailable' &&
          err.detail.retryAfterSeconds === 7
        );
      },
    );
  });
});
