import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  enterpriseClaims,
  get,
  ISS,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  const dir = tempDir();
  const ring = await keyRing();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
});
after(async () => {
  await gw.close();
  await upstream.close();
});

test('valid enterprise token reaches the upstream with identity headers', async () => {
  const ring = await keyRing();
  const token = await sign(ring.enterprise, enterpriseClaims());
  const res = await get(`${gw.url}/api/mail/messages?top=5`, token, {
    headers: { 'x-auth-subject': 'mallory' },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.url, '/api/mail/messages?top=5');
  assert.equal(seen.headers['x-auth-subject'], 'alice');
  assert.equal(seen.headers['x-auth-issuer'], 'enterprise');
});

test('consumer key claiming enterprise is key_issuer_mismatch, critical', async () => {
  const ring = await keyRing();
  const token = await sign(ring.consumer, enterpriseClaims());
  const res = await get(`${gw.url}/api/mail/messages`, token);
  assert.equal(res.status, 401);
  assert.equal(res.body.reason, 'key_issuer_mismatch');
  const ev = gw.logs.events('key_issuer_mismatch').at(-1)!;
  assert.equal(ev.severity, 'critical');
  assert.equal(ev.signatureValid, true);
  assert.equal(ev.claimedIssuer, ISS.enterprise);
  assert.ok(!gw.logs.text.includes(token));
});
