// Time and room on the upstream leg are bounded, so one client cannot hold the gateway: a body
// trickled too slowly is cut off (408 body_timeout), a route's timeoutSeconds counts from the
// request's authorisation to the upstream's headers (the wait for a connection and the upload
// included), and a full upstream pool refuses at once (503 upstream_busy) instead of queueing
// without bound.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { bodyOf, readText } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { finalHeaders, finalStatus, openRaw } from '../helpers/raw-socket.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let token: string;
const gateways: TestGateway[] = [];

const route = (name: string, prefix: string, extra: Record<string, unknown> = {}) => ({
  name,
  prefix,
  upstream: upstream.url,
  audience: AUDIENCE,
  issuers: ['enterprise'],
  ...extra,
});

async function gateway(routes: unknown[], extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const dir = tempDir();
  const gw = await startTestGateway(
    referenceConfig(dir, await keyRing(), { upstream: upstream.url, routes, extra }),
    {
      dir,
    },
  );
  gateways.push(gw);
  return gw;
}

before(async () => {
  upstream = await startUpstream();
  token = await sign((await keyRing()).enterprise, enterpriseClaims());
});
after(async () => {
  for (const gw of gateways) await gw.close();
  await upstream.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

/** A GET on a connection of its own, timed from the request to the end of the answer. */
function timedGet(url: string): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      readText(res).then(
        (text) =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: bodyOf(text),
            ms: performance.now() - started,
          }),
        reject,
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function postHead(gw: TestGateway, path: string, length: number): string {
  const { host } = new URL(gw.url);
  return [
    `POST ${path} HTTP/1.1`,
    `Host: ${host}`,
    `Authorization: Bearer ${token}`,
    'Content-Type: application/octet-stream',
    `Content-Length: ${length}`,
    '',
    '',
  ].join('\r\n');
}

describe('request bodies', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await gateway([route('mail', '/api/mail', { bodyIdleTimeoutSeconds: 0.5 })]);
  });

  test('a body that stops arriving is cut off after bodyIdleTimeoutSeconds: 408 body_timeout, connection closed', async () => {
    const conn = await openRaw(gw.url);
    const started = performance.now();
    conn.socket.write(postHead(gw, '/api/mail/trickle', 1000));
    conn.socket.write('0123456789');
    await conn.until((text) => finalStatus(text) !== undefined, 3000, 'an answer to the stalled body');
    const ms = performance.now() - started;
    assert.equal(finalStatus(conn.received()), 408);
    assert.match(conn.received(), /"reason":"body_timeout"/);
    assert.equal(finalHeaders(conn.received()).connection, 'close');
    assert.ok(ms >= 450 && ms < 1500, `cut off after ${Math.round(ms)} ms`);
    await waitFor(() => conn.closed(), { timeoutMs: 2000, message: 'the connection to close' });
  });

  test('a slow body that keeps moving is not cut off', async () => {
    const conn = await openRaw(gw.url);
    conn.socket.write(postHead(gw, '/api/mail/slow-but-moving', 10));
    for (let i = 0; i < 10; i++) {
      conn.socket.write('x');
      await sleep(150);
    }
    await conn.until(
      (text) => finalStatus(text) !== undefined && text.endsWith('\r\n0\r\n\r\n'),
      3000,
      'the answer',
    );
    assert.equal(finalStatus(conn.received()), 200);
    assert.equal(upstream.received.find((r) => r.url === '/api/mail/slow-but-moving')?.bodyBytes, 10);
    conn.close();
  });
});

describe('route time-outs and the upstream pool', () => {
  test('timeoutSeconds counts the upload: a 1 s route answers 504 after 1 s of a moving upload', async () => {
    const short = await gateway([route('short', '/api/short', { timeoutSeconds: 1 })]);
    const conn = await openRaw(short.url);
    const started = performance.now();
    conn.socket.write(postHead(short, '/api/short/long-upload', 100));
    const writer = (async () => {
      for (let i = 0; i < 30 && finalStatus(conn.received()) === undefined && !conn.closed(); i++) {
        conn.socket.write('x');
        await sleep(100);
      }
    })();
    await conn.until((text) => finalStatus(text) !== undefined, 4000, 'an answer');
    const ms = performance.now() - started;
    await writer;
    assert.equal(finalStatus(conn.received()), 504);
    assert.match(conn.received(), /"reason":"upstream_timeout"/);
    assert.ok(ms >= 950 && ms < 1800, `answered after ${Math.round(ms)} ms`);
    conn.close();
  });

  test('timeoutSeconds counts the wait for a connection: 504 on time behind 128 busy connections', async () => {
    // Two routes on one upstream share its pool (128 connections by default).
    const gw = await gateway([
      route('mail', '/api/mail', { timeoutSeconds: 1 }),
      route('holders', '/api/hold', { timeoutSeconds: 30 }),
    ]);
    const holders = Array.from({ length: 128 }, (_, i) => timedGet(`${gw.url}/api/hold/${i}/slow?ms=2500`));
    await waitFor(() => upstream.received.filter((r) => r.url.startsWith('/api/hold/')).length === 128, {
      message: 'every connection to be busy',
    });
    const probe = await timedGet(`${gw.url}/api/mail/queued`);
    assert.equal(probe.status, 504, JSON.stringify(probe.body));
    assert.equal(probe.body.reason, 'upstream_timeout');
    assert.ok(probe.ms >= 950 && probe.ms < 1800, `answered after ${Math.round(probe.ms)} ms`);
    const held = await Promise.all(holders);
    assert.ok(held.every((h) => h.status === 200));
  });

  test('a full pool refuses at once: 503 upstream_busy with Retry-After, and serves again once it drains', async () => {
    const gw = await gateway([route('mail', '/api/mail', { timeoutSeconds: 10 })], {
      upstreams: { connections: 2, maxQueued: 1, retryAfterSeconds: 2 },
    });
    const holders = [0, 1, 2].map((i) => timedGet(`${gw.url}/api/mail/${i}/slow?ms=800`));
    await waitFor(() => upstream.received.filter((r) => /^\/api\/mail\/\d\/slow/.test(r.url)).length === 2, {
      message: 'both connections busy',
    });
    await sleep(50);
    const refused = await timedGet(`${gw.url}/api/mail/one-too-many`);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { error: 'unavailable', reason: 'upstream_busy' });
    assert.equal(refused.headers['retry-after'], '2');
    assert.ok(refused.ms < 200, `refused after ${Math.round(refused.ms)} ms`);
    assert.deepEqual(
      (await Promise.all(holders)).map((h) => h.status),
      [200, 200, 200],
    );
    assert.equal((await timedGet(`${gw.url}/api/mail/after`)).status, 200);
  });
});
