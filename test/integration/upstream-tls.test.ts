import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
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
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.js';
import { get } from '../helpers/http.js';
import { selfSignedCertificate } from '../helpers/self-signed-cert.js';

// The gateway forwards bearer tokens and identity headers: an https upstream that cannot prove
// who it is must not get them. The proxy leg's pools verify certificates (undici's default, set
// explicitly in upstream-options.ts); an internal CA is trusted with NODE_EXTRA_CA_CERTS.
let gw: TestGateway;
let trusting: GatewayProcess | undefined;
let reached = 0;
let close: () => Promise<void>;
let certFile: string;
let port: number;

before(async () => {
  const pair = await generateDevKey('ES256', 'tls');
  const now = Date.now();
  // CN=localhost: with no subjectAltName, Node checks the host name against the CN.
  const der = selfSignedCertificate(pair.privateJwk, {
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 86_400_000),
    commonName: 'localhost',
  });
  const cert = `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const key = createPrivateKey({
    key: pair.privateJwk as import('node:crypto').JsonWebKey,
    format: 'jwk',
  }).export({
    type: 'pkcs8',
    format: 'pem',
  });
  const server = createServer({ cert, key }, (req, res) => {
    reached += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ subject: req.headers['x-auth-subject'] }));
  });
  server.listen(0);
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const dir = tempDir();
  certFile = join(dir, 'upstream-ca.pem');
  writeFileSync(certFile, cert);
  const upstream = `https://localhost:${port}`;
  const config = referenceConfig(dir, await keyRing(), {
    upstream,
    routes: [{ name: 'mail', prefix: '/api/mail', upstream, audience: AUDIENCE, issuers: ['enterprise'] }],
  });
  gw = await startTestGateway(config, { dir });
});

after(async () => {
  await gw?.close();
  await trusting?.stop();
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

test('the same upstream, its certificate trusted through NODE_EXTRA_CA_CERTS, is served', async () => {
  const dir = tempDir();
  const upstream = `https://localhost:${port}`;
  const config = referenceConfig(dir, await keyRing(), {
    upstream,
    routes: [{ name: 'mail', prefix: '/api/mail', upstream, audience: AUDIENCE, issuers: ['enterprise'] }],
  });
  trusting = await startGatewayProcess(config, dir, { NODE_EXTRA_CA_CERTS: certFile });
  const token = await sign((await keyRing()).enterprise, enterpriseClaims());
  const res = await get(`${trusting.url}/api/mail/messages`, token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { subject: 'alice' });
  assert.equal(reached, 1);
});
