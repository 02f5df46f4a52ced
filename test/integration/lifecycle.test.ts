import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { readiness } from '../helpers/readiness.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;

before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  await upstream.close();
});

/** The real CLI in its own process, as a container would run it; resolves once it listens. */
async function startCli(
  configPath: string,
): Promise<{ child: ChildProcess; proxyUrl: string; adminUrl: string; exit: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'start', '--config', configPath, '--drain-seconds', '5'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const started = await new Promise<{ proxyUrl: string; adminUrl: string }>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (!line.includes('"gateway.started"')) continue;
        clearTimeout(timer);
        const parsed = JSON.parse(line) as { proxyUrl: string; adminUrl: string };
        resolve({ proxyUrl: parsed.proxyUrl, adminUrl: parsed.adminUrl });
      }
    });
    void exit.then((code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
  return { child, exit, ...started };
}

/** A request on a connection of its own (no pooled keep-alive socket): what a new client does. */
function freshRequest(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

test('SIGTERM: readiness off first, the in-flight request completes, new clients are turned away, exit 0', async () => {
  const ring = await keyRing();
  const dir = tempDir();
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { lifecycle: { readinessGraceSeconds: 0.3 }, log: { level: 'info' } },
  });
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  const gw = await startCli(path);
  const token = await sign(ring.enterprise, enterpriseClaims());
  assert.equal((await readiness(gw)).status, 200);

  const received = upstream.received.length;
  const slow = get(`${gw.proxyUrl}/api/mail/slow?ms=1500`, token);
  await waitFor(() => upstream.received.length > received, { message: 'the slow request upstream' });

  const signalledAt = Date.now();
  gw.child.kill('SIGTERM');
  // Within readinessGraceSeconds (0.3 s), while the listener still accepts.
  let ready = await readiness(gw);
  await waitFor(
    async () => {
      if (ready.status === 200) ready = await readiness(gw);
      return ready.status !== 200;
    },
    { timeoutMs: 250, message: 'readiness to turn off' },
  );
  assert.equal(ready.status, 503, 'readiness turns off first');
  assert.deepEqual(ready.body.problems, ['draining']);
  // Past readinessGraceSeconds the listener stops accepting.
  let late: number | string | undefined;
  await waitFor(
    async () => {
      late = await freshRequest(`${gw.proxyUrl}/api/mail/messages`);
      return late === 'ECONNREFUSED' || late === 503;
    },
    {
      timeoutMs: 500,
      intervalMs: 20,
      message: () => `a new client to be turned away (the last got ${late})`,
    },
  );
  assert.equal((await readiness(gw)).status, 503, 'still draining while the slow request runs');

  const res = await slow;
  assert.equal(res.status, 200, 'the in-flight request completes');
  assert.deepEqual(res.body, { slow: true });
  assert.equal(await gw.exit, 0);
  assert.ok(Date.now() - signalledAt < 5000, 'drained within the bound');
});

test('an event loop lagging past the bound answers 503 with Retry-After, and recovers', async () => {
  const ring = await keyRing();
  const dir = tempDir();
  const gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        lifecycle: { maxEventLoopDelayMs: 40, overloadRetryAfterSeconds: 3 },
        log: { level: 'silent' },
      },
    }),
    { dir },
  );
  try {
    const token = await sign(ring.enterprise, enterpriseClaims());
    assert.equal((await get(`${gw.url}/api/mail/messages`, token)).status, 200);
    // Sustained overload: the loop is busy 80 ms out of every ~80 ms.
    const hog = setInterval(() => {
      const end = performance.now() + 80;
      while (performance.now() < end);
    }, 1);
    let shed: Awaited<ReturnType<typeof get>> | undefined;
    try {
      for (let i = 0; i < 30 && shed === undefined; i++) {
        const res = await get(`${gw.url}/api/mail/messages`, token);
        if (res.status === 503) shed = res;
      }
    } finally {
      clearInterval(hog);
    }
    assert.ok(shed !== undefined, 'no request was shed under load');
    assert.equal(shed.headers.get('retry-after'), '3');
    assert.deepEqual(shed.body, { error: 'unavailable', reason: 'overloaded' });
    // The guard samples every 500 ms: the next sample or the one after sees the loop idle again.
    await waitFor(async () => (await get(`${gw.url}/api/mail/messages`, token)).status === 200, {
      timeoutMs: 3000,
      intervalMs: 50,
      message: 'the gateway to serve again',
    });
    assert.equal((await get(`${gw.url}/api/mail/messages`, token)).status, 200);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /provgate_overload_rejections_total [1-9]/);
  } finally {
    await gw.close();
  }
});
