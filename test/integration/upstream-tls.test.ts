import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { generateDevKey } from '../../src/demo/dev-keys.js';
import {
  AUDIENCE,
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { selfSignedCertificate } from '../helpers/self-signed-cert.js';

// The gateway forwards bearer tokens and identity headers: an https upstream that cannot prove
// who it is must not get them (reply-from would skip certificate checks unless told otherwise).
let gw: TestGateway;
let reached = 0;
let close: () => Promise<void>;

before(async () => {
  const pair = await generateDevKey('ES256', 'tls');
  const now = Date.now();
  const der = selfSignedCertificate(pair.privateJwk, {
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 86_400_000),
    commonName: '127.0.0.1',
  });
  const cert = `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const key = createPrivateKey({
    key: pair.privateJwk as import('node:crypto').JsonWebKey,
    format: 'jwk',
  }).export({
    type: 'pkcs8',
    format: 'pem',
  });
  const server = createServer({ cert, key }, (_req, res) => {
    reached += 1;
    res.end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const upstream = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const dir = tempDir();
  const config = referenceConfig(dir, await keyRing(), {
    upstream,
    routes: [{ name: 'mail', prefix: '/api/mail', upstream, audience: AUDIENCE, issuers: ['enterprise'] }],
  });
  gw = await startTestGateway(config, { dir });
});

after(async () => {
  await gw?.close();
  await close?.();
});

test('an https upstream with an untrusted certificate gets no request: 502 upstream_unavailable', async () => {
  const token = await sign((await keyRing()).enterprise, enterpriseClaims());
  const res = await get(`${gw.url}/api/mail/messages`, token);
  assert.equal(res.status, 502);
  assert.equal(res.body.reason, 'upstream_unavailable');
  assert.equal(reached, 0);
  assert.ok(!gw.logs.text.includes(token));
});
