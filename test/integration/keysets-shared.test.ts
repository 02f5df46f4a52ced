import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { JWK } from 'jose';
import { ConfigError } from '../../src/config/config-error.js';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  ISS,
  type KeyRing,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { ecKeyRing, ecReferenceConfig, logEvents, signAt } from '../helpers/keysets-fixture.js';
import { readiness } from '../helpers/readiness.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// One "common" key set for two issuers, the shape of Microsoft's common endpoint: each key says
// in its `issuer` member which issuer it signs for, and one key forgot to.
const clock = new TestClock();
let ring: KeyRing;
let enterpriseKey: DevKeyPair;
let consumerKey: DevKeyPair;
let unboundKey: DevKeyPair;
let upstream: Upstream;
let common: IdpStub;
let gw: TestGateway;

before(async () => {
  ring = await ecKeyRing();
  enterpriseKey = await generateDevKey('ES256', 'common-ent');
  consumerKey = await generateDevKey('ES256', 'common-msa');
  unboundKey = await generateDevKey('ES256', 'common-unbound');
  upstream = await startUpstream();
  // `issuer` is Microsoft's JWK member, not a registered one, hence the widened type.
  const bound = (key: DevKeyPair, issuer: string): JWK => ({ ...key.publicJwk, issuer }) as JWK;
  common = await startIdpStub('https://login.example.test/common/v2.0', [
    bound(enterpriseKey, ISS.enterprise),
    bound(consumerKey, ISS.consumer),
    unboundKey.publicJwk,
  ]);
  const dir = tempDir();
  const shared = { keys: { url: common.jwksUrl, shared: true } };
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: { enterprise: shared, consumer: { ...shared, algorithms: ['RS256', 'ES256'] } },
  });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});

after(async () => {
  await gw.close();
  await common.close();
  await upstream.close();
});

async function call(key: DevKeyPair, iss: string) {
  const token = await signAt(key, { ...enterpriseClaims(), iss }, clock);
  return get(`${gw.url}/api/mail/messages`, token);
}

test('each key of a shared set serves only the issuer its issuer member names', async () => {
  assert.equal((await call(enterpriseKey, ISS.enterprise)).status, 200);
  assert.equal((await call(consumerKey, ISS.consumer)).status, 200);
  const ready = await readiness(gw);
  assert.equal(ready.body.keys?.enterprise?.keyCount, 1);
  assert.equal(ready.body.keys?.consumer?.keyCount, 1);
});

test('the consumer key of the common set claiming the enterprise issuer is the Storm-0558 signature', async () => {
  const res = await call(consumerKey, ISS.enterprise);
  assert.equal(res.status, 401);
  assert.equal(res.body.reason, 'key_issuer_mismatch');
  const event = gw.logs.events('key_issuer_mismatch').at(-1);
  assert.equal(event?.severity, 'critical');
  assert.equal(event?.keyIssuer, 'consumer');
  assert.equal(event?.signatureValid, true);
});

test('a key of a shared set without an issuer member is never used, and the load warns naming it', async () => {
  assert.equal((await call(unboundKey, ISS.enterprise)).body.reason, 'unknown_key');
  assert.equal((await call(unboundKey, ISS.consumer)).body.reason, 'unknown_key');
  const warnings = logEvents(gw, 'config.warning').map((l) => String(l.msg));
  for (const issuer of ['enterprise', 'consumer']) {
    assert.ok(
      warnings.some(
        (w) =>
          w.startsWith(`issuers.${issuer}.keys.url`) &&
          w.includes('(kid common-unbound): shared key set, but the key names no issuer; never used'),
      ),
      warnings.join('\n'),
    );
  }
});

test('the same common set without shared: true does not load: its unbound key would speak for both', async () => {
  const dir = tempDir();
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { url: common.jwksUrl } }, consumer: { keys: { url: common.jwksUrl } } },
  });
  await assert.rejects(startTestGateway(config, { dir }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(
      err.problems.some((p) =>
        /key common-unbound is also (enterprise|consumer)'s key common-unbound; a key speaks for one issuer only/.test(
          p,
        ),
      ),
      err.problems.join('\n'),
    );
    return true;
  });
});
