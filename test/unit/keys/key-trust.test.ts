import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type DevKeyPair, generateDevKey, jwksOf, mintToken } from '../../../src/demo/dev-keys.js';
import { buildKeySet } from '../../../src/keys/build-key-set.js';
import { IssuerRegistry, type KeySet, UNLOADED_KEY_SET } from '../../../src/keys/issuer-registry.js';
import type { KeyEntry } from '../../../src/keys/key-entry.js';
import { keyStateOf } from '../../../src/keys/key-state.js';
import { type KeyTrustPolicy, trustVerdict } from '../../../src/keys/key-trust.js';
import { screenKeySet } from '../../../src/keys/screen-new-keys.js';
import { TrustIndex } from '../../../src/keys/trust-index.js';
import { type TrustRecord, trustRecordId } from '../../../src/keys/trust-record.js';
import { RevocationMirror } from '../../../src/revocation/revocation-mirror.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { severityOf } from '../../../src/verify/reasons.js';
import { TokenVerifier } from '../../../src/verify/verify-token.js';
import { compiledIssuer, ENTERPRISE_ISS as ISS } from '../../helpers/compiled-issuer.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
let a: DevKeyPair;
let b: DevKeyPair;
let c: DevKeyPair;
let set: KeySet;

const quarantine = (over: Partial<KeyTrustPolicy> = {}): KeyTrustPolicy => ({
  quarantineNewKeys: true,
  quarantineMs: undefined,
  trustOnFirstLoad: true,
  maxQuarantined: 100,
  pin: undefined,
  ...over,
});

async function keysOf(...pairs: DevKeyPair[]): Promise<KeySet> {
  const built = await buildKeySet(
    jwksOf(pairs),
    {
      issuerId: 'enterprise',
      binding: { issuer: ISS, shared: false },
      windows: {},
      path: 'issuers.enterprise.keys.url',
      removedKeyGraceMs: 0,
      quarantine: new Map(),
    },
    UNLOADED_KEY_SET,
    NOW,
  );
  return built.set;
}

function decision(key: KeyEntry, state: TrustRecord['state'], since = NOW): TrustRecord {
  return {
    id: trustRecordId(key.issuerId, key.thumbprint),
    issuer: key.issuerId,
    kid: key.kid,
    thumbprint: key.thumbprint,
    state,
    since,
    at: new Date(since).toISOString(),
    by: 'test',
  };
}

before(async () => {
  [a, b, c] = await Promise.all([
    generateDevKey('ES256', 'a'),
    generateDevKey('ES256', 'b'),
    generateDevKey('ES256', 'c'),
  ]);
  set = await keysOf(a, b);
});

describe('screenKeySet: the quarantine list', () => {
  test('the first load of an issuer is trusted; with trustOnFirstLoad false it is quarantined', () => {
    const first = screenKeySet('enterprise', quarantine(), new TrustIndex(), set.all, NOW);
    assert.deepEqual(
      first.trustedOnFirstLoad.map((r) => [r.kid, r.state, r.by]),
      [
        ['a', 'trusted', 'first-load'],
        ['b', 'trusted', 'first-load'],
      ],
    );
    assert.equal(first.appeared.length, 0);
    const strict = screenKeySet(
      'enterprise',
      quarantine({ trustOnFirstLoad: false }),
      new TrustIndex(),
      set.all,
      NOW,
    );
    assert.deepEqual(
      strict.appeared.map((r) => [r.kid, r.state]),
      [
        ['a', 'quarantined'],
        ['b', 'quarantined'],
      ],
    );
  });

  test('a key first seen later is quarantined; known material is left alone', async () => {
    const index = new TrustIndex();
    for (const key of set.all) index.apply(decision(key, 'trusted'));
    const later = await keysOf(a, b, c);
    const screened = screenKeySet('enterprise', quarantine(), index, later.all, NOW + 1000);
    assert.deepEqual(
      screened.appeared.map((r) => [r.kid, r.state, r.since]),
      [['c', 'quarantined', NOW + 1000]],
    );
    assert.equal(screened.keys.length, 3);
  });

  test('a changed key under a known kid is a new key', async () => {
    const index = new TrustIndex();
    for (const key of set.all) index.apply(decision(key, 'trusted'));
    const rekeyed = await generateDevKey('ES256', 'a');
    const next = await keysOf(rekeyed, b);
    const screened = screenKeySet('enterprise', quarantine(), index, next.all, NOW);
    assert.deepEqual(
      screened.appeared.map((r) => r.kid),
      ['a'],
    );
    assert.notEqual(screened.appeared[0]!.thumbprint, set.byKid.get('a')!.thumbprint);
  });

  test('past maxQuarantined the new keys are left out of the set', async () => {
    const index = new TrustIndex();
    index.apply(decision(set.byKid.get('a')!, 'trusted'));
    const screened = screenKeySet(
      'enterprise',
      quarantine({ maxQuarantined: 1 }),
      index,
      (await keysOf(a, b, c)).all,
      NOW,
    );
    assert.deepEqual(
      screened.appeared.map((r) => r.kid),
      ['b'],
    );
    assert.deepEqual(
      screened.overflow.map((k) => k.kid),
      ['c'],
    );
    assert.deepEqual(
      screened.keys.map((k) => k.kid),
      ['a', 'b'],
    );
  });

  test('a quarantined key the set no longer serves is forgotten, freeing the budget', () => {
    const index = new TrustIndex();
    index.apply(decision(set.byKid.get('a')!, 'trusted'));
    const gone = decision({ ...set.byKid.get('b')!, thumbprint: 'x'.repeat(43) }, 'quarantined');
    index.apply(gone);
    const screened = screenKeySet('enterprise', quarantine({ maxQuarantined: 1 }), index, set.all, NOW);
    assert.deepEqual(screened.unpublished, [gone.id]);
    assert.deepEqual(
      screened.appeared.map((r) => r.kid),
      ['b'],
    );
  });

  test('an issuer that trusts new keys is not screened at all', () => {
    const screened = screenKeySet('enterprise', undefined, new TrustIndex(), set.all, NOW);
    assert.equal(screened.keys, set.all);
    assert.equal(screened.appeared.length + screened.trustedOnFirstLoad.length, 0);
  });
});

describe('trustVerdict', () => {
  test('quarantined until trusted or soaked; distrust wins over everything', () => {
    const key = set.byKid.get('a')!;
    const index = new TrustIndex();
    assert.equal(trustVerdict(quarantine(), index, key, NOW), 'quarantined', 'no record at all: fail closed');
    index.apply(decision(key, 'quarantined', NOW));
    assert.equal(trustVerdict(quarantine(), index, key, NOW + 10_000), 'quarantined');
    const soak = quarantine({ quarantineMs: 5000 });
    assert.equal(trustVerdict(soak, index, key, NOW + 4999), 'quarantined');
    assert.equal(trustVerdict(soak, index, key, NOW + 5000), 'trusted');
    index.apply(decision(key, 'trusted'));
    assert.equal(trustVerdict(quarantine(), index, key, NOW), 'trusted');
    index.apply(decision(key, 'distrusted'));
    assert.equal(trustVerdict(undefined, index, key, NOW), 'distrusted', 'even where new keys are trusted');
    assert.equal(trustVerdict(quarantine({ pin: new Set([key.thumbprint]) }), index, key, NOW), 'distrusted');
  });

  test('a pin decides: a pinned key needs no decision, an unpinned one is never trusted', () => {
    const [ka, kb] = [set.byKid.get('a')!, set.byKid.get('b')!];
    const pin = { ...quarantine({ quarantineNewKeys: false }), pin: new Set([ka.thumbprint]) };
    const index = new TrustIndex();
    index.apply(decision(kb, 'trusted'));
    assert.equal(trustVerdict(pin, index, ka, NOW), 'trusted');
    assert.equal(trustVerdict(pin, index, kb, NOW), 'not_pinned');
  });

  test('key state shows an untrusted key as quarantined', () => {
    const key = set.byKid.get('a')!;
    const index = new TrustIndex();
    assert.equal(
      keyStateOf(key, new RevocationMirror(), NOW, { index, policy: quarantine() }),
      'quarantined',
    );
    assert.equal(keyStateOf(key, new RevocationMirror(), NOW), 'active');
  });
});

describe('the key step refuses untrusted keys, cache hits included', () => {
  function verifier(policy: KeyTrustPolicy | undefined, index: TrustIndex, forgeryChecks = 10) {
    const issuer = compiledIssuer({ keys: set, trust: policy });
    return new TokenVerifier({
      registry: new IssuerRegistry([issuer]),
      revocations: new RevocationMirror(),
      clock: () => NOW,
      cache: { enabled: true, maxEntries: 10, maxBytes: 1 << 20 },
      forgeryChecksPerSecond: forgeryChecks,
      trust: index,
    });
  }
  const claims = { iss: ISS, sub: 'alice', aud: 'x' };
  const refusal = (reason: string, signatureValid?: unknown) => (err: unknown) =>
    err instanceof AuthFailure &&
    err.reason === reason &&
    (signatureValid === undefined || err.detail.signatureValid === signatureValid);

  test('key_quarantined, critical when the signature verifies, a probe when it does not', async () => {
    const index = new TrustIndex();
    index.apply(decision(set.byKid.get('a')!, 'quarantined'));
    const v = verifier(quarantine(), index);
    const signed = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    assert.throws(() => v.verify(signed), refusal('key_quarantined', true));
    assert.equal(severityOf('key_quarantined', { signatureValid: true }), 'critical');
    // b's private key, a's kid: whoever sent it does not hold a's key.
    const forged = await mintToken({ ...b.privateJwk, kid: 'a' }, claims, { now: NOW / 1000 });
    assert.throws(() => v.verify(forged), refusal('key_quarantined', false));
    assert.equal(severityOf('key_quarantined', { signatureValid: false }), 'high');
  });

  test('past the forgery budget the evidence is unchecked, never a free signature check', async () => {
    const index = new TrustIndex();
    index.apply(decision(set.byKid.get('a')!, 'quarantined'));
    const v = verifier(quarantine(), index, 0);
    const signed = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    assert.throws(() => v.verify(signed), refusal('key_quarantined', 'unchecked'));
  });

  test('a token verified and cached under a trusted key is refused once the key is distrusted', async () => {
    const index = new TrustIndex();
    index.apply(decision(set.byKid.get('a')!, 'trusted'));
    const v = verifier(quarantine(), index);
    const token = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    // Seen often enough to sit in the cache, whatever its admission policy.
    for (let i = 0; i < 3; i += 1) assert.equal(v.verify(token).key.kid, 'a');
    const hits = v.stats.hits;
    assert.ok(hits > 0);
    index.apply(decision(set.byKid.get('a')!, 'distrusted'));
    assert.throws(() => v.verify(token), refusal('key_quarantined', true));
    assert.equal(v.stats.hits, hits + 1, 'refused on the cache hit itself');
    index.apply(decision(set.byKid.get('a')!, 'trusted'));
    assert.equal(v.verify(token).key.kid, 'a');
  });

  test('key_not_pinned for a key outside keys.pin', async () => {
    const pin = quarantine({ quarantineNewKeys: false, pin: new Set([set.byKid.get('b')!.thumbprint]) });
    const v = verifier(pin, new TrustIndex());
    const token = await mintToken(a.privateJwk, claims, { now: NOW / 1000 });
    assert.throws(() => v.verify(token), refusal('key_not_pinned', true));
    assert.equal(v.verify(await mintToken(b.privateJwk, claims, { now: NOW / 1000 })).key.kid, 'b');
  });
});
