// What the proxy leg does to a message on its way through, both ways, against a real upstream:
// hop-by-hop fields removed (RFC 9110 §7.6.1, with every field a Connection header names), the
// upstream's own connection kept apart from the client's, Host and X-Forwarded-* for the
// upstream, bodies of every framing passed on, bodiless answers kept bodiless, an upstream that
// dies mid-body never passed off as a whole answer, and a client that leaves taking its upstream
// request with it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
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
import { readText } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { endsChunked, finalHeaders, finalStatus, openRaw } from '../helpers/raw-socket.js';

let upstream: Server;
let upstreamHost: string;
let gw: TestGateway;
let token: string;
/** Request headers the upstream saw, by path. */
const seen = new Map<string, IncomingHttpHeaders>();
/** Paths whose upstream request was closed before the upstream answered. */
const abandoned = new Set<string>();

before(async () => {
  upstream = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    seen.set(path, req.headers);
    req.resume();
    const last = path.slice(path.lastIndexOf('/') + 1);
    switch (last) {
      case 'hop-by-hop':
        res.writeHead(200, {
          connection: 'close, X-Internal',
          'x-internal': 'upstream-only',
          'keep-alive': 'timeout=5',
          'proxy-connection': 'keep-alive',
          upgrade: 'h2c',
          'x-kept': 'yes',
          'content-type': 'text/plain',
        });
        res.end('hop');
        return;
      case 'no-content':
        res.writeHead(204, { 'x-kept': 'yes' });
        res.end();
        return;
      case 'not-modified':
        res.writeHead(304, { etag: '"v1"' });
        res.end();
        return;
      case 'chunked':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        setTimeout(() => res.end('part two'), 20);
        return;
      case 'sized':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' });
        res.end('exactly 11!');
        return;
      case 'cookies':
        res.writeHead(200, [
          ['set-cookie', 'a=1; Path=/'],
          ['set-cookie', 'b=2; Path=/'],
          ['content-length', '0'],
        ]);
        res.end();
        return;
      case 'redirect':
        res.writeHead(302, { location: '/cal/events/7?view=day', 'content-length': '0' });
        res.end();
        return;
      case 'dies': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 1));
        setTimeout(() => res.socket?.destroy(), 30);
        return;
      }
      case 'dies-chunked':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(1000, 1));
        setTimeout(() => res.socket?.destroy(), 30);
        return;
      case 'hang':
        res.on('close', () => {
          if (!res.writableFinished) abandoned.add(path);
        });
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path }));
    }
  });
  upstream.keepAliveTimeout = 60_000;
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const url = `http://${upstreamHost}`;
  const ring = await keyRing();
  const dir = tempDir();
  const route = (name: string, prefix: string, extra = {}) => ({
    name,
    prefix,
    upstream: url,
    audience: AUDIENCE,
    issuers: ['enterprise'],
    ...extra,
  });
  gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: url,
      routes: [route('mail', '/api/mail'), route('calendar', '/api/calendar', { rewritePrefix: '/cal' })],
    }),
    { dir },
  );
  token = await sign(ring.enterprise, enterpriseClaims());
});
after(async () => {
  await gw.close();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function rawHead(method: string, path: string, lines: string[] = []): string {
  const { host } = new URL(gw.url);
  return [
    `${method} ${path} HTTP/1.1`,
    `Host: ${host}`,
    `Authorization: Bearer ${token}`,
    ...lines,
    '',
    '',
  ].join('\r\n');
}

interface Received {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly text: string;
}

function fetchVia(path: string, method = 'GET'): Promise<Received> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.url}${path}`,
      { method, agent: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        readText(res).then(
          (text) =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('hop-by-hop fields', () => {
  test('the upstream’s never reach the client, and its Connection: close does not close the client’s connection', async () => {
    const conn = await openRaw(gw.url);
    conn.socket.write(rawHead('GET', '/api/mail/1/hop-by-hop'));
    await conn.until(endsChunked, 3000, 'the first answer');
    const first = finalHeaders(conn.received());
    assert.equal(finalStatus(conn.received()), 200);
    assert.equal(first['x-kept'], 'yes');
    for (const name of ['x-internal', 'proxy-connection', 'upgrade'])
      assert.equal(first[name], undefined, `${name} reached the client`);
    // Connection and Keep-Alive are there, but the gateway's own, about its client connection.
    assert.equal(first.connection, 'keep-alive', 'the client connection is the gateway’s to close');
    assert.notEqual(first['keep-alive'], 'timeout=5');
    // The same connection serves the next request.
    const before = conn.received().length;
    conn.socket.write(rawHead('GET', '/api/mail/2/hop-by-hop'));
    await conn.until(
      (text) => text.length > before && endsChunked(text),
      3000,
      'the second answer on the same connection',
    );
    assert.ok(!conn.closed());
    conn.close();
  });

  test('the client’s never reach the upstream, nor the fields its Connection names; Host is the upstream’s', async () => {
    const conn = await openRaw(gw.url);
    conn.socket.write(
      rawHead('GET', '/api/mail/client-hop', [
        'Connection: keep-alive, X-Secret',
        'X-Secret: for-the-gateway',
        'Keep-Alive: timeout=300',
        'Proxy-Connection: keep-alive',
        'TE: trailers',
        'X-Kept: yes',
      ]),
    );
    await conn.until(endsChunked, 3000, 'the answer');
    assert.equal(finalStatus(conn.received()), 200);
    conn.close();
    const headers = seen.get('/api/mail/client-hop')!;
    for (const name of ['x-secret', 'keep-alive', 'proxy-connection', 'te'])
      assert.equal(headers[name], undefined, `${name} reached the upstream`);
    assert.equal(headers['x-kept'], 'yes');
    assert.equal(headers.host, upstreamHost);
    assert.equal(headers.connection, 'keep-alive', 'the gateway’s own connection to the upstream');
  });

  test('X-Forwarded-For, -Proto and -Host are appended to what the client sent', async () => {
    const conn = await openRaw(gw.url);
    conn.socket.write(
      rawHead('GET', '/api/mail/forwarded', [
        'X-Forwarded-For: 203.0.113.7',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: mail.example.test',
      ]),
    );
    await conn.until(endsChunked, 3000, 'the answer');
    conn.close();
    const headers = seen.get('/api/mail/forwarded')!;
    const { host } = new URL(gw.url);
    assert.equal(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'https, http');
    assert.equal(headers['x-forwarded-host'], `mail.example.test, ${host}`);
    const plain = await fetchVia('/api/mail/forwarded-plain');
    assert.equal(plain.status, 200);
    const direct = seen.get('/api/mail/forwarded-plain')!;
    assert.equal(direct['x-forwarded-for'], '127.0.0.1');
    assert.equal(direct['x-forwarded-proto'], 'http');
    assert.equal(direct['x-forwarded-host'], host);
  });
});

describe('bodies and framing', () => {
  test('chunked and Content-Length bodies arrive whole; Set-Cookie stays two headers', async () => {
    const chunked = await fetchVia('/api/mail/chunked');
    assert.equal(chunked.text, 'part one, part two');
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    const sized = await fetchVia('/api/mail/sized');
    assert.equal(sized.text, 'exactly 11!');
    assert.equal(sized.headers['content-length'], '11');
    const cookies = await fetchVia('/api/mail/cookies');
    assert.deepEqual(cookies.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('HEAD, 204 and 304 carry no body', async () => {
    const conn = await openRaw(gw.url);
    conn.socket.write(rawHead('HEAD', '/api/mail/sized'));
    await conn.until((text) => text.includes('\r\n\r\n'), 3000, 'the HEAD answer');
    assert.equal(finalStatus(conn.received()), 200);
    assert.equal(finalHeaders(conn.received())['content-length'], '11');
    let before = conn.received().length;
    conn.socket.write(rawHead('GET', '/api/mail/no-content'));
    await conn.until((text) => text.length > before && text.endsWith('\r\n\r\n'), 3000, 'the 204');
    assert.match(conn.received().slice(before), /^HTTP\/1\.1 204 /);
    before = conn.received().length;
    conn.socket.write(rawHead('GET', '/api/mail/not-modified'));
    await conn.until((text) => text.length > before && text.endsWith('\r\n\r\n'), 3000, 'the 304');
    assert.match(conn.received().slice(before), /^HTTP\/1\.1 304 /);
    // Nothing after the last head: had any of them carried a body, it would be here.
    assert.ok(conn.received().endsWith('\r\n\r\n'));
    conn.close();
  });

  test('a Location naming the upstream’s path comes back under the gateway’s prefix', async () => {
    const res = await fetchVia('/api/calendar/redirect');
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/api/calendar/events/7?view=day');
  });

  for (const framing of ['dies', 'dies-chunked']) {
    test(`an upstream that dies mid-body (${framing === 'dies' ? 'Content-Length' : 'chunked'}) breaks the client’s response, never ends it`, async () => {
      const outcome = await new Promise<string>((resolve) => {
        const req = request(
          `${gw.url}/api/mail/${framing}`,
          { agent: false, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
            });
            res.on('end', () => resolve(`ended after ${bytes} bytes`));
            res.on('aborted', () => resolve(`aborted after ${bytes} bytes`));
            res.on('error', () => resolve(`error after ${bytes} bytes`));
          },
        );
        req.on('error', (err) => resolve(`request error ${err.message}`));
        req.end();
      });
      assert.match(outcome, /^(aborted|error) after 1000 bytes$/);
    });
  }

  test('a client that goes away takes its upstream request with it', async () => {
    const req = request(`${gw.url}/api/mail/left/hang`, {
      agent: false,
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('error', () => {});
    req.end();
    await waitFor(() => seen.has('/api/mail/left/hang'), { message: 'the request to reach the upstream' });
    req.destroy();
    await waitFor(() => abandoned.has('/api/mail/left/hang'), {
      timeoutMs: 2000,
      message: 'the upstream request to be closed',
    });
  });
});
