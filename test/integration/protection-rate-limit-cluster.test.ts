// One rate limit held by two instances through Redis, counted locally and shared in batches.
// The documented bound (src/protection/rate-limits.ts): the cluster admits at most
// limit + R × 2(P + d) in a window, R the cluster-wide request rate, P the batch interval and
// d the batch round trip. Measured here twice: in lock-step batches, and under real timers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  type KeyRing,
  keyRing,
  sign,
  startTestGateway,
  type TestGateway,
} from '../helpers/gateway-fixture.js';
import { closeClients, getFrom, loopback } from '../helpers/http.js';
import { protectedConfig } from '../helpers/protection.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisStore } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let redis: TestRedis;
let ring: KeyRing;
let upstream: Upstream;
const open: TestGateway[] = [];

before(async () => {
  [redis, ring, upstream] = await Promise.all([startRedis(), keyRing(), startUpstream()]);
});
after(async () => {
  closeClients(); // first, or each gateway waits out its drain grace for our idle sockets
  for (const gw of open) await gw.close();
  await redis.close();
  await upstream.close();
});

/** Two instances on one Redis with one per-route limit; the window never moves (clock held still). */
async function pair(prefix: string, limit: number, shareIntervalMilliseconds: number) {
  const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000 + 1000);
  const { config, dir } = protectedConfig(
    ring,
    upstream,
    {
      rateLimits: [{ name: 'mail-route', key: 'route', routes: ['mail'], limit, windowSeconds: 60 }],
      shareIntervalMilliseconds,
    },
    { store: redisStore(redis.url, prefix) },
  );
  const gws = [
    await startTestGateway(config, { dir, clock: clock.now }),
    await startTestGateway(config, { dir, clock: clock.now }),
  ] as const;
  open.push(...gws);
  const tokens = await Promise.all(
    ['u0', 'u1'].map((sub) => sign(ring.enterprise, enterpriseClaims({ sub }), { now: clock.seconds })),
  );
  return { gws, tokens };
}

test('lock-step batches: k requests per instance between batches overshoot by at most the bound', async (t) => {
  const limit = 50;
  const k = 5;
  const { gws, tokens } = await pair('pg-rl1:', limit, 5000);
  let admitted = 0;
  let refused = 0;
  for (let tick = 0; tick < 14; tick++) {
    for (const [i, gw] of gws.entries()) {
      for (let j = 0; j < k; j++) {
        const res = await getFrom(loopback(i), `${gw.url}/api/mail/messages`, tokens[i]);
        if (res.status === 200) admitted += 1;
        else if (res.status === 429) refused += 1;
        else assert.fail(`unexpected ${res.status}`);
      }
    }
    for (const gw of gws) await gw.running.protection!.sync.flush();
  }
  // Per interval the cluster receives R × P = 2k requests; d is zero in lock-step.
  const bound = 2 * (2 * k);
  t.diagnostic(
    `lock-step: limit ${limit}, admitted ${admitted}, overshoot ${admitted - limit}, bound ${bound}`,
  );
  assert.ok(admitted >= limit, `the limit is not undershot: ${admitted}`);
  assert.ok(admitted - limit <= bound, `overshoot ${admitted - limit} within ${bound}`);
  assert.equal(admitted + refused, 14 * 2 * k);
});

test('real timers: two instances under steady load stay within limit + R × 2(P + d)', async (t) => {
  const limit = 150;
  const perInstance = 200;
  const { gws, tokens } = await pair('pg-rl2:', limit, 100);
  for (const gw of gws)
    Object.assign(gw.running.protection!.sync.stats, { maxIntervalMs: 0, maxDurationMs: 0 });
  const sent: number[] = [];
  const load = async (i: number) => {
    let admitted = 0;
    for (let j = 0; j < perInstance; j++) {
      sent.push(performance.now());
      const res = await getFrom(loopback(i), `${gws[i]!.url}/api/mail/messages`, tokens[i]);
      if (res.status === 200) admitted += 1;
      else assert.equal(res.status, 429);
      await sleep(2);
    }
    return admitted;
  };
  const admitted = (await Promise.all([load(0), load(1)])).reduce((x, y) => x + y, 0);

  const stats = gws.map((gw) => gw.running.protection!.sync.stats);
  const p = Math.max(...stats.map((s) => s.maxIntervalMs));
  const d = Math.max(...stats.map((s) => s.maxDurationMs));
  const span = 2 * (p + d);
  // R × span, taken as the most requests the cluster received in any span-long stretch.
  sent.sort((x, y) => x - y);
  let busiest = 0;
  for (let lo = 0, hi = 0; hi < sent.length; hi++) {
    while (sent[hi]! - sent[lo]! > span) lo++;
    busiest = Math.max(busiest, hi - lo + 1);
  }
  const elapsed = (sent.at(-1)! - sent[0]!) / 1000;
  t.diagnostic(
    `real timers: limit ${limit}, admitted ${admitted}, overshoot ${admitted - limit}; ` +
      `R ≈ ${Math.round(sent.length / elapsed)}/s, P ≤ ${p.toFixed(1)} ms, d ≤ ${d.toFixed(1)} ms, bound ${busiest}`,
  );
  assert.ok(admitted >= limit, `the limit is not undershot: ${admitted}`);
  assert.ok(admitted - limit <= busiest, `overshoot ${admitted - limit} within ${busiest}`);
  assert.ok(admitted <= 2 * limit, 'never more than N × limit');
});
