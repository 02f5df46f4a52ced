// WebSocket (and any Upgrade) requests: authorised on the `upgrade` event by the same pipeline
// as every request, refused on the raw socket, tunnelled through the route's upstream pool, and
// closed by the gateway the moment the credential dies: the token expires, or its key, token or
// subject is revoked, here or on another instance sharing the Redis store. Each closure is a
// `tunnel.closed` security event with its reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisStore, revoke } from '../helpers/revocation.js';
import { connectWebSocket, startWebSocketUpstream, type WebSocketUpstream } from '../helpers/websocket.js';

let ring: KeyRing;
let upstream: WebSocketUpstream;
let redis: TestRedis;
let a: TestGateway;
let b: TestGateway;

const wsUrl = (gw: TestGateway, path: string) => `${gw.url}${path}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const tunnelEvents = (gw: TestGateway) => gw.logs.lines.filter((l) => l.event === 'tunnel.closed');
/** The one route these gateways serve: the WebSocket upstream's notification channel. */
const notifyRoute = () => ({
  name: 'notify',
  prefix: '/api/notify',
  upstream: upstream.url,
  audience: AUDIENCE,
  issuers: ['enterprise'],
});

before(async () => {
  [ring, upstream, redis] = await Promise.all([keyRing(), startWebSocketUpstream(), startRedis()]);
  const dir = tempDir();
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    routes: [notifyRoute()],
    // Skew 0: a tunnel closes at exp itself, which the expiry test waits for.
    issuers: { enterprise: { clockSkewSeconds: 0 } },
    extra: { store: redisStore(redis.url, 'pg-ws:', { resyncSeconds: 60 }) },
  });
  a = await startTestGateway(config, { dir });
  b = await startTestGateway(config, { dir });
});
after(async () => {
  await a?.close();
  await b?.close();
  await upstream?.close();
  await redis?.close();
});

/** An open, working tunnel through `gw` for `token`. */
async function openTunnel(gw: TestGateway, path: string, token: string) {
  const ws = await connectWebSocket(wsUrl(gw, path), bearer(token));
  assert.equal(ws.status, 101, ws.body);
  ws.send('ping');
  await waitFor(() => ws.messages.includes('echo:ping'), { message: 'the echo through the tunnel' });
  return ws;
}

describe('the handshake', () => {
  test('an authorised upgrade is tunnelled: identity headers up, the handshake and frames both ways', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'ws-ok' }));
    const ws = await connectWebSocket(wsUrl(a, '/api/notify/ok'), {
      ...bearer(token),
      'X-Auth-Subject': 'mallory',
    });
    assert.equal(ws.status, 101);
    assert.equal(ws.headers.upgrade?.toLowerCase(), 'websocket');
    ws.send('hello');
    ws.send('x'.repeat(300));
    await waitFor(() => ws.messages.length === 2, { message: 'two echoes' });
    assert.deepEqual(ws.messages, ['echo:hello', `echo:${'x'.repeat(300)}`]);
    const seen = upstream.handshakes.get('/api/notify/ok')!;
    assert.equal(seen['x-auth-subject'], 'alice');
    assert.equal(seen['x-auth-token-id'], 'ws-ok');
    assert.equal(seen.upgrade, 'websocket');
    assert.equal(seen['sec-websocket-version'], '13');
    ws.socket.destroy();
  });

  test('an upgrade without a token is refused on the raw socket: 401, the challenge, never reaches the upstream', async () => {
    const ws = await connectWebSocket(wsUrl(a, '/api/notify/anonymous'));
    assert.equal(ws.status, 401);
    assert.equal(ws.headers['www-authenticate'], 'Bearer realm="provgate"');
    assert.match(ws.body, /"reason":"missing_token"/);
    assert.ok(ws.isClosed());
    assert.equal(upstream.handshakes.has('/api/notify/anonymous'), false);
    assert.equal(a.logs.events('missing_token').at(-1)?.path, '/api/notify/anonymous');
  });

  test('a bad token is refused with its reason, and a path no route serves with no_route', async () => {
    const forged = await sign(ring.consumer, enterpriseClaims(), { header: { kid: 'ent-2024' } });
    const bad = await connectWebSocket(wsUrl(a, '/api/notify/forged'), bearer(forged));
    assert.equal(bad.status, 401);
    assert.match(bad.body, /"reason":"bad_signature"/);
    const token = await sign(ring.enterprise, enterpriseClaims());
    const nowhere = await connectWebSocket(wsUrl(a, '/elsewhere'), bearer(token));
    assert.equal(nowhere.status, 404);
  });

  test('an upstream that declines the upgrade has its answer passed on, and the connection closed', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims());
    const ws = await connectWebSocket(wsUrl(a, '/api/notify/decline'), bearer(token));
    assert.equal(ws.status, 403);
    assert.equal(ws.body, 'declined');
    assert.ok(ws.isClosed());
  });
});

describe('closed when the credential dies', () => {
  test('the token expires', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'ws-expiring' }), { ttlSeconds: 2 });
    const ws = await openTunnel(a, '/api/notify/expiring', token);
    const opened = performance.now();
    await ws.closed;
    const ms = performance.now() - opened;
    assert.ok(ms < 3000, `closed ${Math.round(ms)} ms after opening`);
    await waitFor(() => tunnelEvents(a).some((e) => e.jti === 'ws-expiring'), { message: 'the event' });
    const event = tunnelEvents(a).find((e) => e.jti === 'ws-expiring')!;
    assert.equal(event.reason, 'token_expired');
    assert.equal(event.route, 'notify');
    assert.equal(event.sub, 'alice');
    assert.ok(!JSON.stringify(event).includes(token));
  });

  test('its token is revoked on this instance', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'ws-revoked-here' }));
    const ws = await openTunnel(a, '/api/notify/token', token);
    const res = await revoke(a, {
      kind: 'token',
      issuer: 'enterprise',
      jti: 'ws-revoked-here',
      reason: 'test',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor(() => ws.isClosed(), { timeoutMs: 1000, message: 'the tunnel to close' });
    const event = tunnelEvents(a).find((e) => e.jti === 'ws-revoked-here');
    assert.equal(event?.reason, 'token_revoked');
    assert.equal(event?.severity, 'high');
  });

  test('its subject is revoked on another instance sharing the Redis store', async (t) => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'carol', jti: 'ws-elsewhere' }));
    const ws = await openTunnel(a, '/api/notify/elsewhere', token);
    const other = await openTunnel(
      a,
      '/api/notify/unrelated',
      await sign(ring.enterprise, enterpriseClaims({ sub: 'dave' })),
    );
    const started = performance.now();
    const res = await revoke(b, {
      kind: 'subject',
      issuer: 'enterprise',
      sub: 'carol',
      before: new Date(Date.now() + 60_000).toISOString(),
      reason: 'account compromised',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor(() => ws.isClosed(), { timeoutMs: 1000, message: 'the tunnel on A to close' });
    t.diagnostic(`revoked on B, tunnel on A closed after ${(performance.now() - started).toFixed(1)} ms`);
    const event = tunnelEvents(a).find((e) => e.jti === 'ws-elsewhere');
    assert.equal(event?.reason, 'subject_revoked');
    // Another subject's tunnel lives on.
    other.send('still there');
    await waitFor(() => other.messages.includes('echo:still there'), { message: 'the other tunnel to work' });
    assert.ok(!other.isClosed());
    other.socket.destroy();
  });

  test('its key is revoked', async () => {
    const token = await sign(ring.enterpriseEs, enterpriseClaims({ jti: 'ws-key' }));
    const ws = await openTunnel(a, '/api/notify/key', token);
    const res = await revoke(b, {
      kind: 'key',
      issuer: 'enterprise',
      kid: 'ent-es-1',
      reason: 'rotated out',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor(() => ws.isClosed(), { timeoutMs: 1000, message: 'the tunnel to close' });
    assert.equal(tunnelEvents(a).find((e) => e.jti === 'ws-key')?.reason, 'key_revoked');
    // And a new upgrade with it is refused outright.
    const again = await connectWebSocket(wsUrl(a, '/api/notify/key-again'), bearer(token));
    assert.equal(again.status, 401);
    assert.match(again.body, /"reason":"key_revoked"/);
  });
});

describe('shutdown', () => {
  test('a stopping gateway closes its open tunnels instead of waiting on them forever', async () => {
    const dir = tempDir();
    const config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      routes: [notifyRoute()],
    });
    const c = await startTestGateway(config, { dir });
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'ws-shutdown' }));
    const ws = await openTunnel(c, '/api/notify/shutdown', token);
    const started = performance.now();
    // A grace longer than the test's patience: close() must not wait for the tunnel to end.
    await c.running.close(60_000);
    assert.ok(performance.now() - started < 5000, `close took ${performance.now() - started} ms`);
    await waitFor(() => ws.isClosed(), { timeoutMs: 1000, message: 'the tunnel to close' });
  });
});
