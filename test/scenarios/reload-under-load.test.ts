// An operator reloads the gateway's configuration while it is busy: a good file, then one with a
// mistake in it, then the good one again. Clients on keep-alive connections must not notice:
// not one failed request, not one dropped connection.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
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
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CLIENTS = 4;
const LOAD_MS = 3000;
const BODY = Buffer.alloc(4096, 97);

let upstream: Upstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  await gw?.close();
  await upstream.close();
});

interface Tally {
  ok: number;
  failed: string[];
  /** performance.now() of each answer, to show that every phase was served. */
  readonly times: number[];
}

/** One request on the client's own keep-alive connection; resolves with the status or the error. */
function send(agent: Agent, url: string, token: string, method: 'GET' | 'POST'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent,
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(method === 'POST' ? { 'content-type': 'application/octet-stream' } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (err) => resolve(`response ${err.message}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(method === 'POST' ? BODY : undefined);
  });
}

async function client(base: string, token: string, until: number, tally: Tally, path: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; performance.now() < until; i++) {
      const method = i % 3 === 2 ? 'POST' : 'GET';
      const answer = await send(agent, `${base}${path}`, token, method);
      tally.times.push(performance.now());
      if (answer === 200) tally.ok += 1;
      else tally.failed.push(`${method} ${path}: ${answer}`);
    }
  } finally {
    agent.destroy();
  }
}

test('reloading a good file, a bad file and a good file under load fails no request and drops no connection', async (t) => {
  const ring = await keyRing();
  const dir = tempDir();
  const good = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { reload: { watch: false } },
  });
  // The second good file changes what a request meets on its way (a new route, another time-out,
  // protection rules, a revocation), none of which refuses the clients' token.
  const changed = {
    ...good,
    routes: [
      ...(good.routes as object[]).map((r) => ({ ...r, timeoutSeconds: 10 })),
      {
        name: 'calendar',
        prefix: '/api/calendar',
        upstream: upstream.url,
        audience: AUDIENCE,
        issuers: ['enterprise'],
      },
    ],
    revocations: { subjects: [{ issuer: 'enterprise', sub: 'mallory', before: '2999-01-01T00:00:00Z' }] },
    protection: { denyNetworks: { cidrs: ['203.0.113.0/24'] }, anomalies: { tokenReplay: {} } },
  };
  const broken = { ...changed, routes: [{ ...(good.routes as object[])[0], upstream: 'not a url' }] };
  gw = await startTestGateway(good, { dir });
  const path = join(dir, 'gateway.yaml');
  const token = await sign(ring.enterprise, enterpriseClaims());
  let connections = 0;
  gw.running.gateway.app.server.on('connection', () => {
    connections += 1;
  });

  const tally: Tally = { ok: 0, failed: [], times: [] };
  const started = performance.now();
  const until = started + LOAD_MS;
  const load = Promise.all([
    ...Array.from({ length: CLIENTS }, () => client(gw.url, token, until, tally, '/api/mail/messages')),
    // Requests that take a while are in flight at every reload.
    client(gw.url, token, until, tally, '/api/mail/slow?ms=150'),
  ]);

  const outcomes: boolean[] = [];
  const reloadAt: number[] = [];
  for (const [at, config] of [
    [600, changed],
    [1300, broken],
    [2000, good],
  ] as const) {
    await sleep(Math.max(0, started + at - performance.now()));
    writeFileSync(path, stringify(config));
    reloadAt.push(performance.now());
    outcomes.push((await gw.running.reload('load-test')).applied);
  }
  await load;

  t.diagnostic(`${tally.ok} requests on ${connections} connections, ${tally.failed.length} failed`);
  assert.deepEqual(outcomes, [true, false, true]);
  assert.equal(gw.running.runtime.current.generation, 3);
  assert.deepEqual(tally.failed.slice(0, 10), [], 'every request answered 200');
  assert.equal(connections, CLIENTS + 1, 'each client kept its one connection throughout');
  assert.ok(tally.ok > 300, `only ${tally.ok} requests: hardly a load`);
  // Every phase was served, not just the time before the first reload.
  const phases = [...reloadAt, until];
  for (let i = 0; i < phases.length - 1; i++) {
    const served = tally.times.filter((x) => x > phases[i]! && x <= phases[i + 1]!).length;
    assert.ok(served > 20, `only ${served} answers between reload ${i + 1} and the next`);
  }
  const failed = gw.logs.lines.filter((l) => l.event === 'config.reload_failed');
  assert.equal(failed.length, 1);
  assert.ok((failed[0]!.problems as string[]).some((p) => p.startsWith('routes.0.upstream: ')));
});
