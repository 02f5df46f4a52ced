import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { generateDevKey, jwksOf, mintToken } from '../../src/demo/dev-keys.js';
import { keySetOf } from '../../src/keys/issuer-registry.js';
import { RevocationMirror } from '../../src/revocation/revocation-mirror.js';
import { compileConfig } from '../../src/runtime/compile-config.js';
import { AuthFailure } from '../../src/verify/auth-failure.js';
import { TokenVerifier } from '../../src/verify/verify-token.js';

// The verified-token cache and its mirror image for refusals: a token seen before costs no
// signature check either way, and neither survives a change of the key that decided it.
const ISS = 'https://login.example.test/e';
let verifier: TokenVerifier;
let compiled: Awaited<ReturnType<typeof compileConfig>>;
let good: Awaited<ReturnType<typeof generateDevKey>>;
let now = Date.UTC(2026, 10, 1);

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'provgate-cache-'));
  good = await generateDevKey('ES256', 'k1');
  writeFileSync(join(dir, 'e.json'), JSON.stringify(jwksOf([good])));
  const config = configSchema.parse({
    issuers: {
      e: { issuer: ISS, role: 'identity-provider', keys: { file: 'e.json' }, algorithms: ['ES256'] },
    },
    routes: [{ name: 'r', prefix: '/r', upstream: 'http://127.0.0.1:1', audience: 'a', issuers: ['e'] }],
  });
  compiled = await compileConfig(config, join(dir, 'c.yaml'), { fetchKeys: false });
  verifier = new TokenVerifier({
    registry: compiled.registry,
    revocations: new RevocationMirror(),
    clock: () => now,
    // Every verdict cached at once: these tests are about what a cached one does afterwards.
    cache: { enabled: true, maxEntries: 100, maxBytes: 1 << 20, admission: 'first-sighting' },
    forgeryChecksPerSecond: 0,
  });
});

function reasonOf(token: string): string {
  try {
    verifier.verify(token, false);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof AuthFailure);
    return err.reason;
  }
}

test('a forged token is refused from the refusal cache the second time, with the same reason', async () => {
  const honest = await mintToken(good.privateJwk, { iss: ISS, sub: 's', aud: 'a' }, { now: now / 1000 });
  const forged = `${honest.slice(0, honest.lastIndexOf('.'))}.${'A'.repeat(86)}`;
  const before = verifier.stats.refusalHits;
  assert.equal(reasonOf(forged), 'bad_signature');
  assert.equal(reasonOf(forged), 'bad_signature');
  assert.equal(verifier.stats.refusalHits, before + 1);
  assert.equal(reasonOf(honest), 'ok');
});

test('an expired token stays expired from the cache; a not-yet-valid one is never cached', async () => {
  const expired = await mintToken(
    good.privateJwk,
    { iss: ISS, sub: 's', aud: 'a' },
    { now: now / 1000 - 7200, ttlSeconds: 600 },
  );
  const early = await mintToken(
    good.privateJwk,
    { iss: ISS, sub: 's', aud: 'a', nbf: now / 1000 + 600 },
    { now: now / 1000 },
  );
  const before = verifier.stats.refusalHits;
  assert.equal(reasonOf(expired), 'token_expired');
  assert.equal(reasonOf(expired), 'token_expired');
  assert.equal(reasonOf(early), 'token_not_yet_valid');
  now += 700_000;
  assert.equal(reasonOf(early), 'ok');
  assert.equal(verifier.stats.refusalHits, before + 1);
});

test('tokens under one cache key (same signature tail) are told apart: a payload swapped under a cached signature is refused', async () => {
  const honest = await mintToken(good.privateJwk, { iss: ISS, sub: 's', aud: 'a' }, { now: now / 1000 });
  const other = await mintToken(good.privateJwk, { iss: ISS, sub: 't', aud: 'a' }, { now: now / 1000 });
  const [header, , signature] = honest.split('.');
  // The other token's payload under the honest token's signature: the same tail, so the same key.
  const swapped = `${header}.${other.split('.')[1]}.${signature}`;
  assert.equal(reasonOf(honest), 'ok');
  const hits = verifier.stats.hits;
  assert.equal(reasonOf(swapped), 'bad_signature');
  assert.equal(reasonOf(swapped), 'bad_signature');
  assert.equal(verifier.stats.hits, hits);
  // Neither entry displaced the other's verdict.
  assert.equal(reasonOf(honest), 'ok');
  assert.equal(verifier.stats.hits, hits + 1);
  assert.equal(verifier.verify(honest, false).claims.sub, 's');
});

test('a key replaced in its set sends both cached acceptances and cached refusals down the full path', async () => {
  const token = await mintToken(good.privateJwk, { iss: ISS, sub: 's', aud: 'a' }, { now: now / 1000 });
  assert.equal(reasonOf(token), 'ok');
  const hits = verifier.stats.hits;
  assert.equal(reasonOf(token), 'ok');
  assert.equal(verifier.stats.hits, hits + 1);
  // Same kid, other key material (a rotation that reused the kid): the cached answer is void.
  const other = await generateDevKey('ES256', 'k1');
  const issuer = compiled.registry.byId.get('e')!;
  const rotated = {
    ...issuer.keys.all[0]!,
    keyObject: (await import('node:crypto')).createPublicKey({
      key: other.publicJwk as import('node:crypto').JsonWebKey,
      format: 'jwk',
    }),
  };
  compiled.registry.replaceKeys('e', keySetOf([rotated]));
  assert.equal(reasonOf(token), 'bad_signature');
});
