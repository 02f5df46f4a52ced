// `Expect: 100-continue` is answered only once the request is authorised (RFC 9110 §10.1.1: a
// final answer when the headers decide it, else forward). A refused client is never invited to
// upload: no 100 Continue, its refusal, and the connection closed without reading the body. An
// authorised one is invited, and its body reaches the upstream (curl asks for 100 Continue on
// every upload over 1 MiB). A refused request that sends its body anyway is not read either.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { waitFor } from '../helpers/poll.js';
import { finalHeaders, finalStatus, openRaw } from '../helpers/raw-socket.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let upstream: Upstream;
let gw: TestGateway;
let token: string;
let dir: string;

before(async () => {
  const ring = await keyRing();
  upstream = await startUpstream();
  dir = tempDir();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
  token = await sign(ring.enterprise, enterpriseClaims());
});
after(async () => {
  await gw.close();
  await upstream.close();
});

const reachedUpstream = (path: string) => upstream.received.filter((r) => r.url === path);

function head(path: string, lines: string[]): string {
  const { host } = new URL(gw.url);
  return [`POST ${path} HTTP/1.1`, `Host: ${host}`, ...lines, '', ''].join('\r\n');
}

test('a refused request with Expect: 100-continue gets its refusal, no 100 Continue, and a closed connection', async () => {
  const conn = await openRaw(gw.url);
  conn.socket.write(
    head('/api/mail/refused-continue', [
      'Content-Type: application/octet-stream',
      `Content-Length: ${50 * MiB}`,
      'Expect: 100-continue',
    ]),
  );
  await conn.until((text) => finalStatus(text) !== undefined, 3000, 'a final answer');
  assert.ok(!conn.received().startsWith('HTTP/1.1 100'), 'no 100 Continue before the token was looked at');
  assert.equal(finalStatus(conn.received()), 401);
  assert.equal(finalHeaders(conn.received()).connection, 'close');
  await waitFor(() => conn.closed(), { timeoutMs: 2000, message: 'the gateway to close the connection' });
  assert.equal(reachedUpstream('/api/mail/refused-continue').length, 0);
  assert.equal(gw.logs.events('missing_token').at(-1)?.path, '/api/mail/refused-continue');
});

test('a refused request that sends its body anyway is answered and closed, its body not read', async () => {
  const conn = await openRaw(gw.url);
  conn.socket.write(
    head('/api/mail/refused-body', ['Authorization: Bearer not.a.token', `Content-Length: ${50 * MiB}`]),
  );
  const sending = conn.send(50 * MiB);
  await conn.until((text) => finalStatus(text) !== undefined, 3000, 'a final answer');
  assert.equal(finalStatus(conn.received()), 401);
  assert.equal(finalHeaders(conn.received()).connection, 'close');
  await waitFor(() => conn.closed(), { timeoutMs: 3000, message: 'the gateway to close the connection' });
  const sent = await sending;
  assert.ok(sent < 50 * MiB, `the client got ${(sent / MiB).toFixed(1)} MiB out before the gateway closed`);
  assert.equal(reachedUpstream('/api/mail/refused-body').length, 0);
});

test('an authorised request with Expect: 100-continue is invited after authorisation and forwarded without Expect', async () => {
  const conn = await openRaw(gw.url);
  const size = 2 * MiB;
  conn.socket.write(
    head('/api/mail/continued', [
      `Authorization: Bearer ${token}`,
      'Content-Type: application/octet-stream',
      `Content-Length: ${size}`,
      'Expect: 100-continue',
    ]),
  );
  await conn.until((text) => text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 3000, '100 Continue');
  assert.equal(finalStatus(conn.received()), undefined, 'nothing but the invitation yet');
  await conn.send(size);
  await conn.until(
    (text) => finalStatus(text) !== undefined && text.endsWith('\r\n0\r\n\r\n'),
    5000,
    'the answer',
  );
  assert.equal(finalStatus(conn.received()), 200);
  conn.close();
  const [seen] = reachedUpstream('/api/mail/continued');
  assert.equal(seen?.bodyBytes, size);
  assert.equal(seen?.headers.expect, undefined, 'the gateway answered the expectation itself');
  assert.equal(seen?.headers['x-auth-subject'], 'alice');
});

test('curl uploads over 1 MiB (it asks for 100 Continue) reach the upstream; refused ones upload nothing', async () => {
  const file = join(dir, 'attachment.bin');
  writeFileSync(file, Buffer.alloc(8 * MiB, 98));
  const curl = (auth: string[], path: string) =>
    run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_upload}',
      ...auth,
      '-T',
      file,
      `${gw.url}${path}`,
    ]);
  const ok = await curl(['-H', `Authorization: Bearer ${token}`], '/api/mail/curl-upload');
  assert.equal(ok.stdout, `200 ${8 * MiB}`);
  assert.equal(reachedUpstream('/api/mail/curl-upload')[0]?.bodyBytes, 8 * MiB);
  const refused = await curl([], '/api/mail/curl-refused');
  assert.equal(refused.stdout, '401 0', 'refused before a byte of the body was sent');
  assert.equal(reachedUpstream('/api/mail/curl-refused').length, 0);
});
