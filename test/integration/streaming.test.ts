// A 50 MiB attachment passes through the gateway both ways without being buffered. The far side
// stops reading for a while: a client that stalls mid-download, an upstream that stalls
// mid-upload. A gateway with backpressure stops reading the other side too, so the sender stalls
// with it (what it got out sits in socket buffers); a gateway without would read on and hold the
// body. Both are measured: how far the sender got during the stall, and the peak resident memory
// of the gateway, which runs in a process of its own (the clients and the upstream here allocate
// freely, and the garbage of three parties in one heap is what made an in-process bound flaky).
//
// Every measured transfer runs on new connections (the client opens one, the upstream closes its
// own after each answer): the kernel grows a connection's socket buffers while it carries fast
// traffic (up to 32 MiB each on this machine's loopback), and a warmed connection could absorb a
// whole body, hiding a gateway that buffers. On fresh ones a stalled reader holds the sender back
// within a few MiB.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { enterpriseClaims, keyRing, referenceConfig, sign, tempDir } from '../helpers/gateway-fixture.js';
import {
  type GatewayProcess,
  resetPeak,
  residentMemory,
  startGatewayProcess,
} from '../helpers/gateway-process.js';
import { readText } from '../helpers/http.js';

const MiB = 1024 * 1024;
const SIZE = 50 * MiB;
const CHUNK = 64 * 1024;
const STALL_MS = 1500;
// What fresh loopback sockets hold between the sender and the stalled reader (measured: 4 to 9
// MiB); a gateway that read on lets the sender finish all 50.
const MAX_SENT_DURING_STALL = 24 * MiB;
// Streaming costs a few socket buffers and the garbage of passed chunks (measured: 0 to 20 MiB);
// a gateway holding the body would add the 40-odd MiB the sockets could not take.
const MAX_GROWTH = 32 * MiB;

let upstream: Server;
let gw: GatewayProcess;
let token: string;
/** Bytes the upstream has written of the download in progress. */
let sentDown = 0;
/** Bytes the client has written of the upload in progress. */
let sentUp = 0;
/** Set during an upload: the upstream stops reading after the first chunk until it settles. */
let stallUpstream: Promise<void> | undefined;
const uploads: { bytes: number; subject: string | undefined }[] = [];

/** Writes `bytes` to `sink` as fast as it drains; `progress` sees each chunk. */
function pump(sink: NodeJS.WritableStream, bytes: number, progress: (n: number) => void): void {
  const chunk = Buffer.alloc(CHUNK, 120);
  let left = bytes;
  const more = () => {
    while (left > 0) {
      const piece = left >= CHUNK ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      progress(piece.length);
      if (!sink.write(piece)) {
        sink.once('drain', more);
        return;
      }
    }
    sink.end();
  };
  more();
}

/** Reads `source` to its end; `stall`, if given, holds reading after the first chunk until it settles. */
function readAll(source: IncomingMessage, stall?: Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let stalled = stall === undefined;
    source.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!stalled) {
        stalled = true;
        source.pause();
        void stall!.then(() => source.resume());
      }
    });
    source.on('end', () => resolve(received));
    source.on('error', reject);
  });
}

before(async () => {
  upstream = createServer((req, res) => {
    if (req.method === 'POST') {
      void readAll(req, stallUpstream).then((bytes) => {
        uploads.push({ bytes, subject: req.headers['x-auth-subject'] as string | undefined });
        res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ bodyBytes: bytes }));
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://upstream');
    const bytes = Number(url.searchParams.get('bytes') ?? 0);
    const chunked = url.searchParams.has('chunked');
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      connection: 'close',
      ...(chunked ? {} : { 'content-length': String(bytes) }),
    });
    pump(res, bytes, (n) => {
      sentDown += n;
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const ring = await keyRing();
  const dir = tempDir();
  // A small young generation makes V8 collect passed chunks sooner: the peak then shows what the
  // gateway holds, not how much garbage a large new space lets pile up (up to ~30 MiB otherwise).
  gw = await startGatewayProcess(referenceConfig(dir, ring, { upstream: upstreamUrl }), dir, {
    NODE_OPTIONS: '--max-semi-space-size=1',
  });
  token = await sign(ring.enterprise, enterpriseClaims());
});
after(async () => {
  await gw?.stop();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

interface Transfer {
  /** Bytes that reached the far end. */
  readonly bytes: number;
  /** Bytes the sender got out while the far end was not reading. */
  readonly sentDuringStall: number;
  /** The gateway's peak resident memory above where it stood at the start. */
  readonly growth: number;
  readonly contentLength?: string | undefined;
}

/** Runs `work` with a stall of the far end, watching the gateway's peak RSS and `sent` at the stall's end. */
async function measured(
  work: (stall: Promise<void>) => Promise<Omit<Transfer, 'growth' | 'sentDuringStall'>>,
  sent: () => number,
): Promise<Transfer> {
  resetPeak(gw.pid);
  const before = residentMemory(gw.pid).rss;
  let sentDuringStall = 0;
  const stall = sleep(STALL_MS).then(() => {
    sentDuringStall = sent();
  });
  const result = await work(stall);
  return { ...result, sentDuringStall, growth: residentMemory(gw.pid).peak - before };
}

function download(
  query: string,
  stall?: Promise<void>,
): Promise<{ bytes: number; contentLength?: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.url}/api/mail/attachments/big?${query}`,
      { agent: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        assert.equal(res.statusCode, 200);
        readAll(res, stall).then(
          (bytes) => resolve({ bytes, contentLength: res.headers['content-length'] }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** POSTs `bytes`, writing only as fast as the socket takes them (the client holds no body). */
function upload(bytes: number): Promise<{ bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.url}/api/mail/attachments/upload`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(bytes),
        },
      },
      (res) => {
        readText(res)
          .then((text) => {
            assert.equal(res.statusCode, 200, text);
            resolve({ bytes: (JSON.parse(text) as { bodyBytes: number }).bodyBytes });
          })
          .catch(reject);
      },
    );
    req.on('error', reject);
    pump(req, bytes, (n) => {
      sentUp += n;
    });
  });
}

const mb = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

function assertStreamed(transfer: Transfer, t: TestContext): void {
  t.diagnostic(
    `sender got ${mb(transfer.sentDuringStall)} out during the stall; gateway peak RSS +${mb(transfer.growth)}`,
  );
  assert.equal(transfer.bytes, SIZE, 'every byte arrived');
  assert.ok(
    transfer.sentDuringStall < MAX_SENT_DURING_STALL,
    `the sender got ${mb(transfer.sentDuringStall)} out while the far end read nothing`,
  );
  assert.ok(transfer.growth < MAX_GROWTH, `the gateway's resident memory grew by ${mb(transfer.growth)}`);
}

test('warm-up: the first large transfers of a process grow its heap and allocator once', async () => {
  // The same shapes as the measured transfers, so that what they measure is the steady state.
  assert.equal((await download(`bytes=${SIZE}`, sleep(STALL_MS))).bytes, SIZE);
  stallUpstream = sleep(STALL_MS);
  assert.equal((await upload(SIZE)).bytes, SIZE);
  stallUpstream = undefined;
});

test('a 50 MiB download (Content-Length) to a client that stalls is held back, not buffered', async (t) => {
  sentDown = 0;
  const transfer = await measured(
    (stall) => download(`bytes=${SIZE}`, stall),
    () => sentDown,
  );
  assert.equal(transfer.contentLength, String(SIZE));
  assertStreamed(transfer, t);
});

test('a 50 MiB chunked download the same', async (t) => {
  sentDown = 0;
  const transfer = await measured(
    (stall) => download(`bytes=${SIZE}&chunked`, stall),
    () => sentDown,
  );
  assert.equal(transfer.contentLength, undefined);
  assertStreamed(transfer, t);
});

test('a 50 MiB upload to an upstream that stalls is held back, not buffered', async (t) => {
  sentUp = 0;
  const transfer = await measured(
    (stall) => {
      stallUpstream = stall;
      return upload(SIZE).finally(() => {
        stallUpstream = undefined;
      });
    },
    () => sentUp,
  );
  assert.deepEqual(uploads.at(-1), { bytes: SIZE, subject: 'alice' });
  assertStreamed(transfer, t);
});
