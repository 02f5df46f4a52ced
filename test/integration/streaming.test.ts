// A 50 MB attachment passes through the gateway both ways without being buffered: the gateway
// runs in this process, so its resident memory must not grow by anything near the body size.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { readText } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SIZE = 50 * 1024 * 1024;
const CHUNK = 64 * 1024;
// Generous: the client, the upstream and the gateway all live in this process.
const MAX_GROWTH = 40 * 1024 * 1024;
// Half the body: a gateway that held the body would hold all of it.
const MAX_LIVE_GROWTH = 25 * 1024 * 1024;
const PAUSE_EVERY = 4 * 1024 * 1024;

let upstream: Upstream;
let gw: TestGateway;
let token: string;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

before(async () => {
  upstream = await startUpstream();
  const ring = await keyRing();
  const dir = tempDir();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
  token = await sign(ring.enterprise, enterpriseClaims());
});
after(async () => {
  await gw.close();
  await upstream.close();
});

interface Growth {
  /** Highest RSS above the baseline. */
  readonly rss: number;
  /** Highest live memory (JS heap and buffers, measured right after a full GC) above the baseline. */
  readonly live: number;
}

const liveBytes = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/**
 * RSS alone is a blunt instrument (garbage waits for the next GC, freed memory stays mapped),
 * so the sampler also collects and measures what is still reachable: a buffered body would be.
 */
async function growthDuring(work: () => Promise<void>): Promise<Growth> {
  gc();
  const rss0 = process.memoryUsage().rss;
  const live0 = liveBytes();
  let rss = rss0;
  let live = live0;
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
    gc();
    live = Math.max(live, liveBytes());
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  rss = Math.max(rss, process.memoryUsage().rss);
  return { rss: rss - rss0, live: live - live0 };
}

const MB = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

function assertNotBuffered(growth: Growth, t: TestContext): void {
  t.diagnostic(`RSS +${MB(growth.rss)}, live +${MB(growth.live)}`);
  assert.ok(growth.rss < MAX_GROWTH, `RSS grew by ${MB(growth.rss)}`);
  assert.ok(growth.live < MAX_LIVE_GROWTH, `live memory grew by ${MB(growth.live)}`);
}

/** Reads a body as it arrives, pausing now and then: a gateway that buffered would fill up meanwhile. */
async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  let received = 0;
  let nextPause = PAUSE_EVERY;
  for await (const chunk of body) {
    received += chunk.length;
    if (received >= nextPause) {
      nextPause += PAUSE_EVERY;
      await sleep(20);
    }
  }
  return received;
}

async function download(base: string, bytes: number): Promise<number> {
  const res = await fetch(`${base}/api/mail/attachments/big?bytes=${bytes}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(bytes));
  return drain(res.body!);
}

/**
 * POSTs `bytes` with node:http, writing the next chunk only when the socket asks for it, so the
 * client never holds the body; fetch with a ReadableStream body may read ahead on its own.
 */
function upload(base: string, bytes: number): Promise<Record<string, unknown>> {
  const url = new URL(`${base}/api/mail/attachments/upload`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
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
            resolve(JSON.parse(text) as Record<string, unknown>);
          })
          .catch(reject);
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(CHUNK, 121);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const piece = left >= CHUNK ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

test('a 50 MB download streams through without being buffered', async (t) => {
  // The first large transfer of a process grows its allocator arenas: let the client and the
  // upstream (in this process too) pay for that directly, then warm the gateway's code paths.
  assert.equal(await download(upstream.url, SIZE), SIZE);
  assert.equal(await download(gw.url, 1024 * 1024), 1024 * 1024);
  let received = 0;
  const growth = await growthDuring(async () => {
    received = await download(gw.url, SIZE);
  });
  assert.equal(received, SIZE);
  assertNotBuffered(growth, t);
});

test('a 50 MB upload streams through to the upstream without being buffered', async (t) => {
  assert.equal((await upload(upstream.url, SIZE)).bodyBytes, SIZE);
  assert.equal((await upload(gw.url, 1024 * 1024)).bodyBytes, 1024 * 1024);
  let echoed: Record<string, unknown> = {};
  const growth = await growthDuring(async () => {
    echoed = await upload(gw.url, SIZE);
  });
  assert.equal(echoed.bodyBytes, SIZE, 'the upstream received every byte');
  assert.equal(echoed.method, 'POST');
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.url, '/api/mail/attachments/upload');
  assert.equal(seen.bodyBytes, SIZE);
  assert.equal(seen.headers['x-auth-subject'], 'alice');
  assertNotBuffered(growth, t);
});
