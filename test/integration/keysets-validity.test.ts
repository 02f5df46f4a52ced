import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { JWK } from 'jose';
import { ConfigError } from '../../src/config/config-error.js';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  ISS,
  type KeyRing,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { ecKeyRing, ecReferenceConfig, logEvents } from '../helpers/keysets-fixture.js';
import { selfSignedCertificate } from '../helpers/self-signed-cert.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const YEAR = 365 * 86400;
const clock = new TestClock('2024-06-01T00:00:00Z');
let ring: KeyRing;
let upstream: Upstream;
let idp: IdpStub;
let gw: TestGateway;
const keys: Record<'good' | 'window' | 'wrong' | 'notYet', DevKeyPair> = {} as never;

function withCertificate(key: DevKeyPair, notBefore: string, notAfter: string, certifies?: JWK): JWK {
  const x5c = selfSignedCertificate(key.privateJwk, {
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    ...(certifies ? { subjectPublicJwk: certifies } : {}),
  });
  return { ...key.publicJwk, x5c: [x5c] };
}

before(async () => {
  ring = await ecKeyRing();
  keys.good = await generateDevKey('ES256', 'cert-good');
  keys.window = await generateDevKey('ES256', 'cert-window');
  keys.wrong = await generateDevKey('ES256', 'cert-wrong');
  keys.notYet = await generateDevKey('ES256', 'cert-not-yet');
  upstream = await startUpstream();
  idp = await startIdpStub(ISS.enterprise, [
    withCertificate(keys.good, '2024-01-01T00:00:00Z', '2024-12-31T23:59:59Z'),
    withCertificate(keys.window, '2024-01-01T00:00:00Z', '2024-12-31T23:59:59Z'),
    // The certificate of another key: the set pairs this key with a certificate it does not match.
    withCertificate(keys.wrong, '2024-01-01T00:00:00Z', '2024-12-31T23:59:59Z', ring.enterpriseEs.publicJwk),
    withCertificate(keys.notYet, '2025-01-01T00:00:00Z', '2025-12-31T23:59:59Z'),
  ]);
  const dir = tempDir();
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: {
      enterprise: {
        keys: { url: idp.jwksUrl },
        // The config window still applies inside the certificate's: the stricter one wins.
        keyValidity: { 'cert-window': { notAfter: '2024-03-01T00:00:00Z' } },
      },
    },
  });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});

after(async () => {
  await gw.close();
  await idp.close();
  await upstream.close();
});

async function reasonFor(key: DevKeyPair, issuedAt = clock.seconds): Promise<string> {
  const token = await sign(key, enterpriseClaims(), { now: issuedAt, ttlSeconds: 2 * YEAR });
  const res = await get(`${gw.url}/api/mail/messages`, token);
  return res.status === 200 ? 'ok' : `${res.status} ${String(res.body.reason)}`;
}

test('a key with x5c is honoured only inside its certificate window, intersected with keyValidity', async () => {
  assert.equal(await reasonFor(keys.good), 'ok');
  assert.equal(await reasonFor(keys.window), '401 key_inactive');
  assert.equal(await reasonFor(keys.notYet), '401 key_inactive');
});

test('a certificate for another key makes the key unusable, with a warning naming the kid', async () => {
  assert.equal(await reasonFor(keys.wrong), '401 unknown_key');
  const warning = logEvents(gw, 'config.warning').find((l) => String(l.msg).includes('cert-wrong'));
  assert.match(String(warning?.msg), /certifies a different public key than the JWK/);
});

test('after the certificate expires the key is inactive, for new and already-verified tokens', async () => {
  const verifiedIn2024 = await sign(keys.good, enterpriseClaims(), {
    now: clock.seconds,
    ttlSeconds: 2 * YEAR,
  });
  assert.equal((await get(`${gw.url}/api/mail/messages`, verifiedIn2024)).status, 200);
  clock.set('2025-01-01T00:00:00Z');
  const cached = await get(`${gw.url}/api/mail/messages`, verifiedIn2024);
  assert.equal(cached.status, 401);
  assert.equal(cached.body.reason, 'key_inactive');
  assert.equal(await reasonFor(keys.good), '401 key_inactive');
  // And the key that was not yet valid now is.
  assert.equal(await reasonFor(keys.notYet), 'ok');
});

test('a key file pairing a key with another key’s certificate does not load', async () => {
  const dir = tempDir();
  const config = ecReferenceConfig(dir, ring, { upstream: upstream.url });
  const bad = withCertificate(
    keys.wrong,
    '2024-01-01T00:00:00Z',
    '2030-01-01T00:00:00Z',
    ring.enterpriseEs.publicJwk,
  );
  writeFileSync(join(dir, 'consumer.jwks.json'), JSON.stringify({ keys: [ring.consumer.publicJwk, bad] }));
  await assert.rejects(startTestGateway(config, { dir }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(
      err.problems.some((p) =>
        /^issuers\.consumer\.keys\.file: keys\[1\] \(kid cert-wrong\): x5c\[0\] certifies a different/.test(
          p,
        ),
      ),
      err.problems.join('\n'),
    );
    return true;
  });
});
