// Protection after the token verified, with the memory store and a clock the test moves:
// token replay from many addresses, rate limits with their IETF fields, volume spikes, each in
// enforce and in monitor mode, and blocks that end on time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  type KeyRing,
  keyRing,
  sign,
  type TestGateway,
} from '../helpers/gateway-fixture.js';
import { closeClients, getFrom, loopback } from '../helpers/http.js';
import { anomalies, startProtected, verdictFrom } from '../helpers/protection.js';
import { admin } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let upstream: Upstream;
const open: TestGateway[] = [];

before(async () => {
  [ring, upstream] = await Promise.all([keyRing(), startUpstream()]);
});
after(async () => {
  closeClients(); // first, or each gateway waits out its drain grace for our idle sockets
  for (const gw of open) await gw.close();
  await upstream.close();
});

async function gateway(protection: Record<string, unknown>, clock: TestClock) {
  const gw = await startProtected(ring, upstream, protection, { clock: clock.now });
  open.push(gw);
  return gw;
}

function tokenFor(clock: TestClock, sub = 'alice', ttlSeconds = 3600): Promise<string> {
  return sign(ring.enterprise, enterpriseClaims({ sub }), { now: clock.seconds, ttlSeconds });
}

describe('token_replay', () => {
  test('enforce: a token seen from more than maxAddresses addresses is blocked for the rest of its life', async () => {
    const clock = new TestClock();
    const gw = await gateway(
      { anomalies: { tokenReplay: { maxAddresses: 3, windowSeconds: 600, mode: 'enforce' } } },
      clock,
    );
    const stolen = await tokenFor(clock, 'alice', 1800);
    const other = await tokenFor(clock, 'alice');
    for (let i = 0; i < 3; i++) assert.equal(await verdictFrom(gw, loopback(i), stolen), 'ok');
    assert.equal(await verdictFrom(gw, loopback(0), stolen), 'ok');
    assert.equal(await verdictFrom(gw, loopback(3), stolen), '401 token_blocked');
    assert.equal(await verdictFrom(gw, loopback(0), stolen), '401 token_blocked');
    // Another token of the same subject is not the stolen one.
    assert.equal(await verdictFrom(gw, loopback(0), other), 'ok');

    const [event] = anomalies(gw.logs, 'token_replay');
    assert.equal(event!.action, 'blocked');
    assert.equal(event!.subject, 'alice');
    assert.equal(event!.issuer, 'enterprise');
    assert.deepEqual(event!.addresses, [0, 1, 2, 3].map(loopback));
    assert.deepEqual(event!.counts, { distinctAddresses: 4, maxAddresses: 3, windowSeconds: 600 });
    const refused = gw.logs.events('token_blocked').at(-1)!;
    assert.equal(refused.tokenFingerprint, event!.tokenFingerprint);
    assert.ok(!gw.logs.text.includes(stolen), 'the token itself is never logged');

    const [block] = (await admin(gw.adminUrl, 'GET', '/blocks')).body.blocks as Record<string, unknown>[];
    assert.equal(block!.target, 'token');
    assert.equal(block!.expiresAt, (clock.seconds + 1800 + 60) * 1000, 'until exp plus the clock skew');
  });

  test('addresses seen longer ago than the window do not count', async () => {
    const clock = new TestClock();
    const gw = await gateway(
      { anomalies: { tokenReplay: { maxAddresses: 2, windowSeconds: 60, mode: 'enforce' } } },
      clock,
    );
    const token = await tokenFor(clock);
    for (let i = 0; i < 6; i++) {
      assert.equal(await verdictFrom(gw, loopback(10 + i), token), 'ok', `address ${i}`);
      clock.advance(31_000); // a laptop moving between networks, one address at a time
    }
  });

  test('monitor: reported once per window, nothing refused', async () => {
    const clock = new TestClock();
    const gw = await gateway({ anomalies: { tokenReplay: { maxAddresses: 2, mode: 'monitor' } } }, clock);
    const token = await tokenFor(clock);
    for (let i = 0; i < 6; i++) assert.equal(await verdictFrom(gw, loopback(20 + i), token), 'ok');
    const flagged = anomalies(gw.logs, 'token_replay');
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.mode, 'monitor');
    assert.equal(flagged[0]!.action, 'flagged');
    assert.deepEqual((await admin(gw.adminUrl, 'GET', '/blocks')).body.blocks, []);
  });
});

describe('rate limits', () => {
  test('enforce per subject: 429 rate_limited with Retry-After, RateLimit-Policy and RateLimit', async () => {
    const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000 + 15_000);
    const gw = await gateway(
      {
        rateLimits: [
          { name: 'mail-per-subject', key: 'subject', routes: ['mail'], limit: 3, windowSeconds: 60 },
        ],
      },
      clock,
    );
    const alice = await tokenFor(clock, 'alice');
    const alice2 = await tokenFor(clock, 'alice');
    for (let i = 0; i < 3; i++)
      assert.equal(await verdictFrom(gw, loopback(i), i === 1 ? alice2 : alice), 'ok');
    const res = await getFrom(loopback(5), `${gw.url}/api/mail/messages`, alice2);
    assert.equal(res.status, 429);
    assert.deepEqual(res.body, { error: 'rate_limited', reason: 'rate_limited' });
    assert.equal(res.headers['retry-after'], '45');
    assert.equal(res.headers['ratelimit-policy'], '"mail-per-subject";q=3;w=60');
    assert.equal(res.headers.ratelimit, '"mail-per-subject";r=0;t=45');
    // Other subjects and other routes are not this limit's business.
    assert.equal(await verdictFrom(gw, loopback(0), await tokenFor(clock, 'bob')), 'ok');
    assert.equal(await verdictFrom(gw, loopback(0), alice, '/api/token/x'), 'ok');
    // Refused requests do not count: the next window starts from zero.
    clock.advance(45_000);
    assert.equal(await verdictFrom(gw, loopback(0), alice), 'ok');
  });

  test('per token, per client address and per route', async () => {
    const clock = new TestClock();
    const gw = await gateway(
      {
        rateLimits: [
          { name: 'per-token', key: 'token', limit: 2, windowSeconds: 60 },
          { name: 'per-ip', key: 'ip', limit: 3, windowSeconds: 60 },
          { name: 'token-route', key: 'route', routes: ['token'], limit: 4, windowSeconds: 60 },
        ],
      },
      clock,
    );
    const t1 = await tokenFor(clock, 'u1');
    assert.equal(await verdictFrom(gw, loopback(30), t1), 'ok');
    assert.equal(await verdictFrom(gw, loopback(31), t1), 'ok');
    assert.equal(await verdictFrom(gw, loopback(32), t1), '429 rate_limited');
    // per-ip: the third request from loopback(30) is the limit; the fourth is over it.
    assert.equal(await verdictFrom(gw, loopback(30), await tokenFor(clock, 'u2')), 'ok');
    assert.equal(await verdictFrom(gw, loopback(30), await tokenFor(clock, 'u3')), 'ok');
    assert.equal(await verdictFrom(gw, loopback(30), await tokenFor(clock, 'u4')), '429 rate_limited');
    const [a, b, c] = await Promise.all(['v1', 'v2', 'v3'].map((s) => tokenFor(clock, s)));
    const route = '/api/token/mint';
    assert.equal(await verdictFrom(gw, loopback(40), a, route), 'ok');
    assert.equal(await verdictFrom(gw, loopback(41), a, route), 'ok');
    assert.equal(await verdictFrom(gw, loopback(42), b, route), 'ok');
    assert.equal(await verdictFrom(gw, loopback(43), c, route), 'ok');
    const res = await getFrom(loopback(44), `${gw.url}${route}`, await tokenFor(clock, 'v4'));
    assert.equal(res.status, 429);
    assert.equal(res.headers['ratelimit-policy'], '"token-route";q=4;w=60');
  });

  test('monitor: over the limit is served and reported once a window', async () => {
    const clock = new TestClock();
    const gw = await gateway(
      { rateLimits: [{ name: 'soft', key: 'subject', limit: 2, windowSeconds: 60, mode: 'monitor' }] },
      clock,
    );
    const token = await tokenFor(clock);
    for (let i = 0; i < 5; i++) assert.equal(await verdictFrom(gw, loopback(50), token), 'ok');
    const flagged = anomalies(gw.logs, 'rate_limit');
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.limit, 'soft');
    assert.deepEqual(flagged[0]!.counts, { requests: 2, limit: 2, windowSeconds: 60 });
  });
});

describe('volume_spike', () => {
  const spike = { factor: 2, floorPerMinute: 5, halfLifeSeconds: 600, routes: ['mail'], blockSeconds: 120 };

  test('enforce: a subject far above its baseline is blocked, on every route, until blockSeconds pass', async () => {
    const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000);
    const gw = await gateway({ anomalies: { volumeSpike: { ...spike, mode: 'enforce' } } }, clock);
    const token = await tokenFor(clock, 'carol');
    const fresh = await tokenFor(clock, 'carol');
    // A new subject's baseline is the floor: factor × floor = 10 requests in a minute pass.
    for (let i = 0; i < 10; i++) assert.equal(await verdictFrom(gw, loopback(60), token), 'ok');
    assert.equal(await verdictFrom(gw, loopback(60), token), '401 subject_blocked');
    // The subject is blocked, not the token: a refreshed token does not help, and says so.
    assert.equal(await verdictFrom(gw, loopback(60), fresh, '/api/token/x'), '401 subject_blocked');
    assert.equal(await verdictFrom(gw, loopback(60), await tokenFor(clock, 'dave')), 'ok');
    const [event] = anomalies(gw.logs, 'volume_spike');
    assert.equal(event!.action, 'blocked');
    assert.equal(event!.route, 'mail');
    assert.deepEqual(event!.counts, { requestsThisMinute: 11, baselinePerMinute: 0, threshold: 10 });
    const refusals = gw.logs.events('subject_blocked');
    assert.equal(refusals.length, 2);
    assert.ok(
      refusals.every((r) => r.sub === 'carol' && r.severity === 'high' && r.issuerId === 'enterprise'),
    );
    assert.equal(gw.logs.events('token_blocked').length, 0);
    const [block] = (await admin(gw.adminUrl, 'GET', '/blocks')).body.blocks as Record<string, unknown>[];
    assert.equal(block!.target, 'subject');
    assert.equal(block!.reason, 'subject_blocked');

    clock.advance(121_000);
    assert.equal(await verdictFrom(gw, loopback(60), fresh), 'ok');
  });

  test('monitor: flagged once a minute, nothing refused', async () => {
    const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000);
    const gw = await gateway({ anomalies: { volumeSpike: { ...spike, mode: 'monitor' } } }, clock);
    const token = await tokenFor(clock, 'erin');
    for (let i = 0; i < 15; i++) assert.equal(await verdictFrom(gw, loopback(61), token), 'ok');
    assert.equal(anomalies(gw.logs, 'volume_spike').length, 1);
    assert.equal(anomalies(gw.logs, 'volume_spike')[0]!.action, 'flagged');
  });
});
