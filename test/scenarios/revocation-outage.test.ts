// Redis fails under running gateways, and comes back. The incident, in order: a revocation is
// made; redis-server is killed (SIGKILL); the instances go on from their mirrors (serve-stale) or,
// past maxStaleSeconds, refuse everything (fail-closed); a revocation asked for meanwhile is
// refused, never acknowledged; redis-server restarts and every instance catches up, including one
// that missed a pub/sub message. Then: Redis down while a gateway starts, and Redis back empty.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import { TestClock } from '../helpers/clock.js';
import {
  AUDIENCE,
  enterpriseClaims,
  ISS,
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
import {
  admin,
  listed,
  provgate,
  redisStore,
  revoke,
  verdict,
  writeConfigFile,
} from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let ring: KeyRing;

function consumerClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: ISS.consumer, sub: 'zoe', aud: AUDIENCE, scp: 'Mail.Read', ...extra };
}

/** Waits until /readyz reports `status` and returns its body. */
async function readyzBecomes(gw: TestGateway, status: string, timeoutMs = 3000) {
  let body: Record<string, unknown> = {};
  await waitFor(
    async () => {
      body = (await readiness(gw)).body;
      return body.status === status;
    },
    { timeoutMs, message: `/readyz to say ${status}` },
  );
  return body;
}

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
});
after(async () => upstream?.close());

describe('serve-stale: two instances lose Redis and get it back', () => {
  const prefix = 'pg-stale:';
  const channel = `${prefix}{rev}:changes`;
  let redis: TestRedis;
  let inspect: Redis;
  let dir: string;
  let configPath: string;
  let a: TestGateway;
  let b: TestGateway;
  let revokedBefore: string;
  let valid: string;
  let revokedId: string;

  before(async () => {
    redis = await startRedis();
    inspect = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    inspect.on('error', () => {});
    dir = tempDir();
    const config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: { store: redisStore(redis.url, prefix, { onUnavailable: 'serve-stale', resyncSeconds: 0.2 }) },
    });
    configPath = writeConfigFile(dir, 'gateway.yaml', config);
    a = await startTestGateway(config, { dir });
    b = await startTestGateway(config, { dir });
    revokedBefore = await sign(ring.enterprise, enterpriseClaims({ jti: 'revoked-before-outage' }));
    valid = await sign(ring.enterprise, enterpriseClaims({ jti: 'asked-during-outage' }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    inspect?.disconnect();
    await redis?.close();
  });

  test('before the outage: a token revoked through A is refused by B', async () => {
    const res = await revoke(a, {
      kind: 'token',
      issuer: 'enterprise',
      jti: 'revoked-before-outage',
      reason: 'phished',
      by: 'oncall-alice',
    });
    assert.equal(res.status, 201);
    revokedId = String(res.body.id);
    await waitFor(async () => (await verdict(b, revokedBefore)) === '401 token_revoked', {
      timeoutMs: 1000,
      message: 'B to refuse',
    });
  });

  test('redis-server killed: both instances answer from their mirrors, /readyz degraded with the reason', async () => {
    await redis.stop(true);
    for (const gw of [a, b]) {
      const body = await readyzBecomes(gw, 'degraded');
      assert.equal((await readiness(gw)).status, 200);
      assert.deepEqual(body.problems, []);
      const degraded = body.degraded as string[];
      assert.equal(degraded.length, 1);
      assert.match(
        degraded[0]!,
        /^revocation store \(redis\) unavailable: .+; serving the last known revocations$/,
      );
      assert.equal((body.store as { available: boolean }).available, false);
      assert.equal(await verdict(gw, revokedBefore), '401 token_revoked');
      assert.equal(await verdict(gw, valid), 'ok');
    }
  });

  test('a revocation asked for while Redis is down is refused with 503, and so is lifting one', async () => {
    const res = await revoke(a, { kind: 'token', issuer: 'enterprise', jti: 'asked-during-outage' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error, 'store_unavailable');
    assert.match(String(res.body.message), /^revocation not stored: redis: /);
    // Not half-applied either: neither instance refuses the token.
    assert.equal(await verdict(a, valid), 'ok');
    assert.equal(await verdict(b, valid), 'ok');

    const lift = await admin(b.adminUrl, 'DELETE', `/revocations/${revokedId}`);
    assert.equal(lift.status, 503);
    assert.equal(await verdict(b, revokedBefore), '401 token_revoked');
  });

  test('redis-server back: every instance resyncs and subscribes again; nothing refused was stored', async () => {
    await redis.restart();
    for (const gw of [a, b]) await readyzBecomes(gw, 'ready', 4000);
    await waitFor(
      async () => {
        const [, count] = (await inspect.pubsub('NUMSUB', channel)) as [string, number];
        return count === 2;
      },
      { message: 'both subscribers back' },
    );
    const stored = await inspect.hgetall(`${prefix}{rev}:records`);
    assert.deepEqual(Object.keys(stored), [revokedId]);
    for (const gw of [a, b]) {
      assert.equal(await verdict(gw, revokedBefore), '401 token_revoked');
      assert.equal(await verdict(gw, valid), 'ok');
    }
    // Writes work again and reach the other instance.
    const res = await revoke(b, { kind: 'token', issuer: 'enterprise', jti: 'asked-during-outage' });
    assert.equal(res.status, 201);
    await waitFor(async () => (await verdict(a, valid)) === '401 token_revoked', {
      timeoutMs: 1000,
      message: 'A to refuse',
    });
  });

  test('a CLI revocation B misses on pub/sub reaches it through the periodic version check', async () => {
    // Cut B off from the change channel only; its command connection stays up. (A private
    // field: there is no other way to lose exactly one message on purpose.)
    const subscriber = (b.running.revocations.store as unknown as { link: { subscriber: Redis } }).link
      .subscriber;
    await subscriber.unsubscribe(channel);
    assert.deepEqual(await inspect.pubsub('NUMSUB', channel), [channel, 1]);

    const missed = await sign(ring.enterprise, enterpriseClaims({ jti: 'missed-message' }));
    assert.equal(await verdict(b, missed), 'ok');
    const [run, list] = await Promise.all([
      provgate('revoke token', { issuer: 'enterprise', jti: 'missed-message' }, configPath),
      // The record made before the crash is still there, with who and why, after Redis restarted.
      provgate('revocations list', {}, configPath),
    ]);
    assert.equal(run.code, 0, run.stderr);
    await waitFor(async () => (await verdict(a, missed)) === '401 token_revoked', {
      timeoutMs: 1000,
      message: 'A to refuse (pub/sub)',
    });
    const ms = await waitFor(async () => (await verdict(b, missed)) === '401 token_revoked', {
      timeoutMs: 2000,
      message: 'B to refuse (version check)',
    });
    assert.ok(ms < 1000, `B took ${ms} ms`);

    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(
        `^${revokedId}  \\S+Z  by static-token \\(api\\)  token revoked-before-outage of enterprise  reason: phished  note: oncall-alice$`,
        'm',
      ),
    );
  });
});

describe('fail-closed: past maxStaleSeconds without Redis, every request is 503', () => {
  const clock = new TestClock();
  let redis: TestRedis;
  let gw: TestGateway;
  let valid: string;
  let revoked: string;

  before(async () => {
    redis = await startRedis();
    const dir = tempDir();
    const config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: redisStore(redis.url, 'pg-closed:', {
          onUnavailable: 'fail-closed',
          maxStaleSeconds: 5,
          resyncSeconds: 0.2,
        }),
      },
    });
    gw = await startTestGateway(config, { dir, clock: clock.now });
    valid = await sign(ring.enterprise, enterpriseClaims({ jti: 'fc-valid' }), { now: clock.seconds });
    revoked = await sign(ring.enterprise, enterpriseClaims({ jti: 'fc-revoked' }), { now: clock.seconds });
  });
  after(async () => {
    await gw?.close();
    await redis?.close();
  });

  test('the outage, second by second on the injected clock', async () => {
    assert.equal((await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'fc-revoked' })).status, 201);
    await gw.running.revocations.sync(); // last contact with the store: now

    await redis.stop(true);
    await readyzBecomes(gw, 'degraded');

    clock.advance(4000); // within maxStaleSeconds: the last known state still answers
    assert.equal(await verdict(gw, valid), 'ok');
    assert.equal(await verdict(gw, revoked), '401 token_revoked');
    const within = (await readiness(gw)).body;
    assert.equal(within.status, 'degraded');
    assert.equal((within.store as { staleSeconds: number }).staleSeconds, 4);

    clock.advance(1500); // past it: nothing is let through on a state that may be out of date
    assert.equal(await verdict(gw, valid), '503 revocation_state_stale');
    assert.equal(await verdict(gw, revoked), '503 revocation_state_stale');
    const past = await readiness(gw);
    assert.equal(past.status, 503);
    assert.equal(past.body.status, 'not_ready');
    assert.match((past.body.problems as string[])[0]!, /unavailable: .+; state stale, fail-closed$/);
    assert.equal((await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'fc-valid' })).status, 503);

    await redis.restart();
    await readyzBecomes(gw, 'ready', 4000);
    assert.equal(await verdict(gw, valid), 'ok');
    assert.equal(await verdict(gw, revoked), '401 token_revoked');
  });
});

describe('Redis down at gateway start', () => {
  let redis: TestRedis;
  let inspect: Redis;
  let gw: TestGateway | undefined;

  before(async () => {
    redis = await startRedis();
    inspect = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    inspect.on('error', () => {});
  });
  after(async () => {
    await gw?.close();
    inspect?.disconnect();
    await redis?.close();
  });

  test('it starts on the config revocations, says degraded, and connects when Redis comes back', async () => {
    const dir = tempDir();
    const config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: redisStore(redis.url, 'pg-start:', { resyncSeconds: 0.2 }),
        revocations: { keys: [{ issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' }] },
      },
    });
    // A revocation stored earlier, by an instance that has gone since.
    const earlier = await startTestGateway(config, { dir });
    const stored = await revoke(earlier, { kind: 'token', issuer: 'enterprise', jti: 'stored-earlier' });
    assert.equal(stored.status, 201);
    await earlier.close();
    await redis.stop(true);

    const startedAt = performance.now();
    gw = await startTestGateway(config, { dir });
    assert.ok(performance.now() - startedAt < 4000, 'a Redis that is down does not hold up the start');
    assert.equal(await verdict(gw, await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    const body = await readyzBecomes(gw, 'degraded');
    assert.equal((await readiness(gw)).status, 200);
    assert.match((body.degraded as string[])[0]!, /^revocation store \(redis\) unavailable: /);

    await redis.restart();
    await readyzBecomes(gw, 'ready', 4000);
    const storedEarlier = await sign(ring.enterprise, enterpriseClaims({ jti: 'stored-earlier' }));
    await waitFor(async () => (await verdict(gw!, storedEarlier)) === '401 token_revoked', {
      message: 'the stored revocation',
    });
    assert.equal(await verdict(gw, await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    const records = await listed(gw);
    assert.deepEqual(records.map((r) => `${String(r.kind)}:${String(r.source)}`).sort(), [
      'key:config',
      'token:api',
    ]);
  });

  test('Redis back empty (restarted without its data): the config revocations still hold and are written back', async () => {
    assert.ok(gw);
    await inspect.flushall();
    await waitFor(async () => (await inspect.hlen('pg-start:{rev}:records')) === 1, {
      timeoutMs: 2000,
      message: 'the resync to notice',
    });
    assert.equal(await verdict(gw, await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    const [record] = await listed(gw);
    assert.equal(record?.kind, 'key');
    assert.equal(record?.source, 'config');
  });
});
