// The proof-replay check when Redis is away: bounded by store.lookupTimeoutMs, then the store's
// fail mode decides. fail-closed: DPoP requests get 503 dpop_replay_unavailable; serve-stale: they
// are served on this instance's memory alone (a replay to the same instance is still refused).
// Plain bearer requests never wait for Redis either way. Redis is hung with SIGSTOP, as a stalled
// Redis is, and stopped outright.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DpopKey, dpopKey, dpopProof } from '../helpers/dpop-client.js';
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
import { rawRequest } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ORIGIN = 'https://mail.example.test';

let redis: TestRedis;
let upstream: Upstream;
let ring: KeyRing;
let key: DpopKey;
let closed: TestGateway;
let stale: TestGateway;

async function start(onUnavailable: string, prefix: string): Promise<TestGateway> {
  const dir = tempDir();
  const base = { upstream: upstream.url, audience: AUDIENCE, issuers: ['enterprise'] };
  return startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      routes: [{ name: 'mail', prefix: '/api/mail', ...base }],
      extra: {
        listen: { host: '127.0.0.1', port: 0, publicOrigin: ORIGIN },
        store: {
          kind: 'redis',
          url: redis.url,
          prefix,
          onUnavailable,
          lookupTimeoutMs: 150,
          maxStaleSeconds: 300,
        },
      },
    }),
    { dir },
  );
}

before(async () => {
  [redis, upstream, ring, key] = await Promise.all([
    startRedis(),
    startUpstream(),
    keyRing(),
    dpopKey('ES256'),
  ]);
  closed = await start('fail-closed', 'pg-out-a:');
  stale = await start('serve-stale', 'pg-out-b:');
});

after(async () => {
  redis?.resume();
  await Promise.all([closed?.close(), stale?.close()]);
  await upstream?.close();
  await redis?.close();
});

async function dpop(gateway: TestGateway, token: string, proof?: string) {
  const p = proof ?? (await dpopProof(key, { method: 'GET', url: `${ORIGIN}/api/mail/m`, token }));
  const started = performance.now();
  const r = await rawRequest(gateway.url, '/api/mail/m', [`Authorization: DPoP ${token}`, `DPoP: ${p}`]);
  return { status: r.status, reason: r.body.reason, proof: p, ms: performance.now() - started };
}

async function bearer(gateway: TestGateway, token: string) {
  const started = performance.now();
  const r = await rawRequest(gateway.url, '/api/mail/m', [`Authorization: Bearer ${token}`]);
  return { status: r.status, ms: performance.now() - started };
}

describe('Redis hung (SIGSTOP)', () => {
  test('fail-closed: 503 dpop_replay_unavailable within the lookup time-out; serve-stale: served, replays on one instance still refused', async () => {
    const bound = await sign(ring.enterprise, enterpriseClaims({ cnf: { jkt: key.jkt } }));
    const plain = await sign(ring.enterprise, enterpriseClaims());
    assert.equal((await dpop(closed, bound)).status, 200, 'Redis up');
    redis.pause();
    try {
      const refused = await dpop(closed, bound);
      assert.equal(refused.status, 503);
      assert.equal(refused.reason, 'dpop_replay_unavailable');
      assert.ok(refused.ms < 1500, `bounded by the time-out: ${refused.ms} ms`);
      const event = closed.logs.events('dpop_replay_unavailable').at(-1)!;
      assert.match(String(event.note), /fail-closed/);

      const served = await dpop(stale, bound);
      assert.equal(served.status, 200, 'serve-stale: this instance remembers it');
      assert.equal((await dpop(stale, bound, served.proof)).reason, 'dpop_proof_replayed');

      // Bearer tokens never wait on the replay store.
      for (const gateway of [closed, stale]) {
        const r = await bearer(gateway, plain);
        assert.equal(r.status, 200);
        assert.ok(r.ms < 100, `${r.ms} ms`);
      }
    } finally {
      redis.resume();
    }
  });
});

describe('Redis stopped', () => {
  test('fail-closed refuses DPoP requests while it is away and serves them again once it is back', async () => {
    const bound = await sign(ring.enterprise, enterpriseClaims({ cnf: { jkt: key.jkt } }));
    await redis.stop();
    try {
      assert.equal((await dpop(closed, bound)).reason, 'dpop_replay_unavailable');
      assert.equal((await dpop(stale, bound)).status, 200);
    } finally {
      await redis.restart();
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await dpop(closed, bound)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200, 'served again once Redis answers');
  });
});
