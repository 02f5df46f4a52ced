// A hung Redis is an outage too. redis-server is stopped with SIGSTOP: its sockets stay open and
// nothing answers, as with a stalled failover or a full disk. A revocation asked for meanwhile is
// refused with 503 within the write time-out (never acknowledged late, and never applied late
// either), /readyz reports the store down, and fail-closed refuses every request once
// maxStaleSeconds have passed since the last successful exchange. SIGCONT brings it all back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { TestClock } from '../helpers/clock.js';
import {
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
import { readiness } from '../helpers/readiness.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { admin, listed, redisStore, revoke, verdict } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'pg-hang:';
// Longer than any bound asserted below: a gateway that waits for Redis would wait this long.
const HANG_MS = 8000;

let redis: TestRedis;
let inspect: Redis;
let upstream: Upstream;
let ring: KeyRing;
let gw: TestGateway;
const clock = new TestClock();

before(async () => {
  [redis, upstream, ring] = await Promise.all([startRedis(), startUpstream(), keyRing()]);
  inspect = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  inspect.on('error', () => {});
  const dir = tempDir();
  // The time-outs are the defaults (lookups 250 ms, writes 2000 ms); so is maxStaleSeconds (60).
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { store: redisStore(redis.url, PREFIX, { onUnavailable: 'fail-closed', resyncSeconds: 0.2 }) },
  });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});
after(async () => {
  redis?.resume();
  await gw?.close();
  inspect?.disconnect();
  await upstream?.close();
  await redis?.close();
});

test('SIGSTOP on redis-server: 503 within the write time-out, readiness down, fail-closed past maxStaleSeconds', async () => {
  const valid = await sign(ring.enterprise, enterpriseClaims({ jti: 'hang-valid' }), { now: clock.seconds });
  const revoked = await sign(ring.enterprise, enterpriseClaims({ jti: 'hang-revoked' }), {
    now: clock.seconds,
  });
  const first = await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'hang-revoked' });
  assert.equal(first.status, 201);
  await gw.running.revocations.sync(); // the last successful exchange: now on the test clock

  redis.pause();
  // Whatever happens below, Redis resumes: a gateway that hangs on it must not hang the test.
  const safety = setTimeout(() => redis.resume(), HANG_MS);
  try {
    const started = performance.now();
    const res = await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'asked-during-hang' });
    const ms = performance.now() - started;
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error, 'store_unavailable');
    assert.match(String(res.body.message), /^revocation not stored: redis: write timed out after 2000 ms$/);
    assert.ok(ms < 3000, `answered after ${ms.toFixed(0)} ms`);
    const lift = await admin(gw.adminUrl, 'DELETE', `/revocations/${String(first.body.id)}`);
    assert.equal(lift.status, 503);

    // The store is reported down, with why; the mirror still answers.
    let body: Record<string, unknown> = {};
    await waitFor(
      async () => {
        body = (await readiness(gw)).body;
        return body.status === 'degraded';
      },
      { timeoutMs: 2000, message: () => `/readyz to say degraded (${JSON.stringify(body)})` },
    );
    assert.match((body.degraded as string[])[0]!, /^revocation store \(redis\) unavailable: .*timed out/);
    assert.equal((body.store as { available: boolean }).available, false);
    assert.equal(await verdict(gw, valid), 'ok');
    assert.equal(await verdict(gw, revoked), '401 token_revoked');

    clock.advanceSeconds(59); // within maxStaleSeconds of the last exchange
    assert.equal(await verdict(gw, valid), 'ok');
    assert.equal((await readiness(gw)).status, 200);

    clock.advanceSeconds(2); // past it: nothing is let through on a state that may be out of date
    assert.equal(await verdict(gw, valid), '503 revocation_state_stale');
    assert.equal(await verdict(gw, revoked), '503 revocation_state_stale');
    const past = await readiness(gw);
    assert.equal(past.status, 503);
    assert.equal(past.body.status, 'not_ready');
    assert.match(past.body.problems![0]!, /timed out.*; state stale, fail-closed$/);
  } finally {
    clearTimeout(safety);
    redis.resume();
  }

  await waitFor(async () => (await readiness(gw)).body.status === 'ready', {
    timeoutMs: 4000,
    message: '/readyz to say ready once Redis resumes',
  });
  assert.equal(await verdict(gw, valid), 'ok');
  // The writes Redis found in its socket when it woke up came past their deadline: refused, not
  // applied, so the two 503s told the truth (nothing revoked, nothing lifted).
  assert.equal(await verdict(gw, revoked), '401 token_revoked');
  await gw.running.revocations.sync();
  const stored = Object.values(await inspect.hgetall(`${PREFIX}{rev}:records`)).map(
    (json) => (JSON.parse(json) as { jti: string }).jti,
  );
  assert.deepEqual(stored, ['hang-revoked']);
  assert.deepEqual(
    (await listed(gw)).map((r) => r.jti),
    ['hang-revoked'],
  );
});
