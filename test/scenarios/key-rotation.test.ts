// The identity providers rotate their keys while the gateway runs, with no restart and no
// operator: a new key is honoured the moment it is used, a retired key serves out its grace and
// is then refused, and when one provider's set suddenly publishes another provider's key, that
// key is refused for both, the incident is logged as critical, and everything else keeps working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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

const GRACE_SECONDS = 600;
const clock = new TestClock('2024-06-01T08:00:00Z');
let ring: KeyRing;
let ent1: DevKeyPair;
let ent2: DevKeyPair;
let upstream: Upstream;
let enterpriseIdp: IdpStub;
let consumerIdp: IdpStub;
let gw: TestGateway;
let tokenBeforeRotation: string;

before(async () => {
  ring = await ecKeyRing();
  ent1 = await generateDevKey('ES256', 'ent-2024-1');
  ent2 = await generateDevKey('ES256', 'ent-2024-2');
  upstream = await startUpstream();
  enterpriseIdp = await startIdpStub(ISS.enterprise, [ent1.publicJwk]);
  consumerIdp = await startIdpStub(ISS.consumer, [ring.consumer.publicJwk]);
  const dir = tempDir();
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: {
      enterprise: { keys: { discovery: enterpriseIdp.discoveryUrl, removedKeyGraceSeconds: GRACE_SECONDS } },
      consumer: { keys: { url: consumerIdp.jwksUrl }, algorithms: ['RS256', 'ES256'] },
    },
  });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});

after(async () => {
  await gw.close();
  await enterpriseIdp.close();
  await consumerIdp.close();
  await upstream.close();
});

const mail = () => `${gw.url}/api/mail/messages`;
const keySets = () => gw.running.compiled.keySets;

test('08:00 the enterprise IdP signs with its first key', async () => {
  tokenBeforeRotation = await signAt(ent1, enterpriseClaims(), clock);
  assert.equal((await get(mail(), tokenBeforeRotation)).status, 200);
});

test('08:10 it publishes a second key and signs with it at once: honoured without a restart', async () => {
  clock.advanceSeconds(600);
  enterpriseIdp.keys = [ent1.publicJwk, ent2.publicJwk];
  const res = await get(mail(), await signAt(ent2, enterpriseClaims(), clock));
  assert.equal(res.status, 200, JSON.stringify(res.body));
});

test('08:20 it retires the first key: tokens signed just before still pass during the grace', async () => {
  clock.advanceSeconds(600);
  enterpriseIdp.keys = [ent2.publicJwk];
  assert.equal((await keySets().refresh('enterprise')).ok, true);
  const refreshed = logEvents(gw, 'keys.refreshed').at(-1);
  assert.deepEqual(refreshed?.removed, ['ent-2024-1']);
  assert.equal((await get(mail(), tokenBeforeRotation)).status, 200);
  clock.advanceSeconds(GRACE_SECONDS - 1);
  assert.equal((await get(mail(), tokenBeforeRotation)).status, 200);
});

test('08:30 the grace is over: the retired key is unknown, even for a token verified before', async () => {
  clock.advanceSeconds(1);
  const res = await get(mail(), tokenBeforeRotation);
  assert.equal(res.status, 401);
  assert.equal(res.body.reason, 'unknown_key');
  // A later refresh drops it for good; it stays unknown.
  assert.equal((await keySets().refresh('enterprise')).ok, true);
  assert.equal((await get(mail(), await signAt(ent1, enterpriseClaims(), clock))).body.reason, 'unknown_key');
  assert.equal((await get(mail(), await signAt(ent2, enterpriseClaims(), clock))).status, 200);
});

test("08:40 the consumer IdP's set starts publishing the enterprise key: refused for both, critical event", async () => {
  clock.advanceSeconds(600);
  const consumerToken = await signAt(ring.consumer, { ...enterpriseClaims(), iss: ISS.consumer }, clock);
  consumerIdp.keys = [ring.consumer.publicJwk, { ...ent2.publicJwk, kid: 'msa-2024' }];

  const outcome = await keySets().refresh('consumer');
  assert.equal(outcome.ok, false);
  const incident = logEvents(gw, 'keys.shared_material').at(-1);
  assert.equal(incident?.severity, 'critical');
  assert.equal(incident?.issuerId, 'consumer');
  assert.equal(incident?.kid, 'msa-2024');
  assert.equal(incident?.otherIssuer, 'enterprise');
  assert.equal(incident?.otherKid, 'ent-2024-2');

  // The enterprise key is refused: nobody can tell any more who holds its private key.
  const enterprise = await get(mail(), await signAt(ent2, enterpriseClaims(), clock));
  assert.equal(enterprise.status, 401);
  assert.equal(enterprise.body.reason, 'key_issuer_mismatch');
  // The consumer's previous set stays in force: its own key works, the new kid is not there.
  assert.equal((await get(mail(), consumerToken)).status, 200);
  const viaConsumer = await signAt(ent2, { ...enterpriseClaims(), iss: ISS.consumer }, clock, 'msa-2024');
  assert.equal((await get(mail(), viaConsumer)).body.reason, 'unknown_key');

  const ready = await readiness(gw);
  assert.ok(ready.body.degraded?.some((d) => d.includes('ent-2024-2') && d.includes('two issuers')));
  assert.match(
    ready.body.keys?.consumer?.lastError ?? '',
    /key msa-2024 is also enterprise's key ent-2024-2/,
  );
});
