// Storm-0558's collection scripts replayed hard-coded bearer tokens through rotating proxies to
// pull mail and attachments in bulk, refreshing tokens as they went. Two provgate instances
// share one Redis; a normal user reads mail at a normal pace throughout. The script is cut off on
// every instance within the configured thresholds; the user never notices a thing.
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
import { closeClients, loopback } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { anomalies, protectedConfig, verdictFrom } from '../helpers/protection.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisStore } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const MAX_ADDRESSES = 5;
const SPIKE = { factor: 10, floorPerMinute: 6 }; // a new subject may read 60 items a minute per instance
const USER_ADDRESS = '127.0.0.5';

let redis: TestRedis;
let ring: KeyRing;
let upstream: Upstream;
let clock: TestClock;
let gateways: TestGateway[];
let aliceServed = 0;
const aliceRefused: string[] = [];

before(async () => {
  [redis, ring, upstream] = await Promise.all([startRedis(), keyRing(), startUpstream()]);
  clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000);
  const { config, dir } = protectedConfig(
    ring,
    upstream,
    {
      rateLimits: [
        { name: 'mail-per-subject', key: 'subject', routes: ['mail'], limit: 600, windowSeconds: 60 },
      ],
      anomalies: {
        tokenReplay: { maxAddresses: MAX_ADDRESSES, windowSeconds: 600, mode: 'enforce' },
        failureBurst: { maxFailures: 20, windowSeconds: 60, blockSeconds: 900, mode: 'enforce' },
        criticalEvent: { blockSeconds: 3600, mode: 'enforce' },
        volumeSpike: {
          ...SPIKE,
          halfLifeSeconds: 3600,
          routes: ['mail'],
          blockSeconds: 900,
          mode: 'enforce',
        },
      },
      shareIntervalMilliseconds: 50,
    },
    { store: redisStore(redis.url, 'pg-bulk:') },
  );
  gateways = [
    await startTestGateway(config, { dir, clock: clock.now }),
    await startTestGateway(config, { dir, clock: clock.now }),
  ];
});
after(async () => {
  closeClients();
  for (const gw of gateways) await gw.close();
  await redis.close();
  await upstream.close();
});

/** Alice, from her one address, opening her mailbox now and then through either instance. */
async function aliceReads(n: number): Promise<void> {
  const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'alice' }), { now: clock.seconds });
  const verdict = await verdictFrom(gateways[n % 2]!, USER_ADDRESS, token, `/api/mail/messages?page=${n}`);
  if (verdict === 'ok') aliceServed += 1;
  else aliceRefused.push(verdict);
}

test('a stolen token replayed through rotating proxies is cut off on every instance', async () => {
  const stolen = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob' }), { now: clock.seconds });
  const served = new Set<string>();
  let cutOffAt = -1;
  for (let i = 0; i < 40; i++) {
    const address = loopback(300 + i); // a new exit every request
    const verdict = await verdictFrom(
      gateways[i % 2]!,
      address,
      stolen,
      `/api/mail/messages/${i}/attachments/1`,
    );
    if (verdict === 'ok') {
      assert.equal(cutOffAt, -1, `served again after the cut-off (request ${i})`);
      served.add(address);
    } else {
      assert.equal(verdict, '401 token_blocked');
      if (cutOffAt === -1) cutOffAt = i;
    }
    if (i % 4 === 0) await aliceReads(i);
    clock.advance(100);
    await sleep(5); // the script's own pace
  }
  // Each instance alone would stop the token at its own sixth address; sharing sightings through
  // Redis stops it closer to the cluster-wide sixth. Either way: at most N × maxAddresses.
  assert.ok(cutOffAt > 0, 'cut off');
  assert.ok(served.size > MAX_ADDRESSES, 'not before the threshold');
  assert.ok(served.size <= 2 * MAX_ADDRESSES, `served from ${served.size} addresses`);
  for (const gw of gateways) {
    await waitFor(
      async () => {
        return (await verdictFrom(gw, loopback(300), stolen)) === '401 token_blocked';
      },
      { timeoutMs: 1000, message: 'every instance to refuse the token' },
    );
  }
  const decided = gateways.flatMap((gw) => anomalies(gw.logs, 'token_replay'));
  assert.ok(decided.length >= 1 && decided.every((e) => e.action === 'blocked' && e.subject === 'bob'));
  process.stdout.write(
    `# replayed token: served from ${served.size} addresses, cut off at request ${cutOffAt + 1}\n`,
  );
});

test('refreshing tokens does not help: the subject’s volume spike blocks all of its tokens everywhere', async () => {
  let token = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob' }), { now: clock.seconds });
  let served = 0;
  let refreshes = 0;
  let cutOff = false;
  for (let i = 0; i < 400 && !cutOff; i++) {
    const verdict = await verdictFrom(gateways[i % 2]!, loopback(400 + i), token, `/api/mail/messages/${i}`);
    if (verdict === 'ok') served += 1;
    else {
      // The token by replay from too many addresses, or the subject by its volume.
      assert.ok(['401 token_blocked', '401 subject_blocked'].includes(verdict), verdict);
      // Refresh, as the scripts did; if even a fresh token is refused, the subject is blocked.
      token = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob' }), { now: clock.seconds });
      refreshes += 1;
      cutOff =
        (await verdictFrom(gateways[(i + 1) % 2]!, loopback(800 + i), token)) === '401 subject_blocked';
    }
    if (i % 10 === 0) await aliceReads(i);
    clock.advance(50);
  }
  assert.ok(cutOff, 'cut off');
  const perMinute = 2 * SPIKE.factor * SPIKE.floorPerMinute;
  assert.ok(served <= perMinute, `${served} items served in the minute, at most ${perMinute}`);
  for (const gw of gateways) {
    const fresh = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob' }), { now: clock.seconds });
    await waitFor(
      async () => {
        return (await verdictFrom(gw, loopback(900), fresh)) === '401 subject_blocked';
      },
      { timeoutMs: 1000, message: 'every instance to refuse the subject' },
    );
  }
  assert.ok(gateways.some((gw) => anomalies(gw.logs, 'volume_spike').some((e) => e.action === 'blocked')));
  process.stdout.write(
    `# refreshed tokens: ${served} items served with ${refreshes} tokens before the subject was blocked\n`,
  );
});

test('the normal user, at a normal pace, was never refused, and still is not', async () => {
  for (let i = 0; i < 10; i++) {
    await aliceReads(1000 + i);
    clock.advance(6_000);
  }
  assert.deepEqual(aliceRefused, []);
  assert.ok(aliceServed >= 30, `alice served ${aliceServed} times`);
  for (const gw of gateways) assert.equal(anomalies(gw.logs).filter((e) => e.subject === 'alice').length, 0);
});
