// request.log is made only when a request logs (src/http/request-logger.ts): what it writes must
// be what Fastify's per-request child wrote, its reqId binding and the logger's redaction included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AUDIENCE,
  enterpriseClaims,
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { freePort } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let gw: TestGateway;
let ring: KeyRing;

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  const dir = tempDir();
  // Access logging off, as by default: nothing but the leg's own lines comes from request.log.
  const config = referenceConfig(dir, ring, { upstream: upstream.url, extra: { log: { level: 'info' } } });
  (config.routes as unknown[]).push({
    name: 'dead',
    prefix: '/api/dead',
    upstream: `http://127.0.0.1:${await freePort()}`,
    audience: AUDIENCE,
    issuers: ['enterprise'],
  });
  gw = await startTestGateway(config, { dir });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

test("a request's log line carries its own reqId, with the logger's base fields, and no token", async () => {
  const token = await sign(ring.enterprise, enterpriseClaims());
  const first = await get(`${gw.url}/api/dead/x`, token);
  const second = await get(`${gw.url}/api/dead/y`, token);
  assert.equal(first.status, 502);
  assert.equal(second.status, 502);
  const lines = gw.logs.lines.filter((l) => l.event === 'upstream.error');
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.equal(typeof line.reqId, 'string');
    assert.equal(line.service, 'provgate');
    assert.equal(line.route, 'dead');
    assert.equal(line.level, 40);
  }
  assert.notEqual(lines[0]!.reqId, lines[1]!.reqId);
  assert.equal(gw.logs.text.includes(token), false);
});

test('a request that logs nothing leaves no line', async () => {
  const withReqId = () => gw.logs.lines.filter((l) => l.reqId !== undefined).length;
  const before = withReqId();
  const token = await sign(ring.enterprise, enterpriseClaims());
  const res = await get(`${gw.url}/api/mail/v1.0/me/messages`, token);
  assert.equal(res.status, 200);
  assert.equal(withReqId(), before);
});
