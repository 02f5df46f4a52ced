// The Redis store against a private redis-server: two gateway instances share it, a revocation
// made through one is refused by the other within a second, and a restart loses nothing.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import { redisKeys } from '../../src/revocation/redis-store.js';
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
import { admin, instant, listed, redisStore, revoke, verdict } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const NOW = Math.floor(Date.now() / 1000);
const PREFIX = 'pg-it:';
const KEYS = {
  records: `${PREFIX}{rev}:records`,
  version: `${PREFIX}{rev}:version`,
  audit: `${PREFIX}{rev}:audit`,
  channel: `${PREFIX}{rev}:changes`,
};

let redis: TestRedis;
let inspect: Redis;
let upstream: Upstream;
let ring: KeyRing;
let dir: string;
let config: Record<string, unknown>;
let a: TestGateway;
let b: TestGateway;

function consumerClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: ISS.consumer, sub: 'zoe', aud: AUDIENCE, scp: 'Mail.Read', ...extra };
}

before(async () => {
  [redis, upstream, ring] = await Promise.all([startRedis(), startUpstream(), keyRing()]);
  inspect = new Redis(redis.url, { lazyConnect: true });
  await inspect.connect();
  dir = tempDir();
  // A long resync period: whatever B learns within the test, it learns through pub/sub.
  config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { store: redisStore(redis.url, PREFIX, { resyncSeconds: 60 }) },
  });
  a = await startTestGateway(config, { dir });
  b = await startTestGateway(config, { dir });
});
after(async () => {
  await a?.close();
  await b?.close();
  inspect?.disconnect();
  await upstream?.close();
  await redis?.close();
});

test('both instances are ready on the Redis store', async () => {
  for (const gw of [a, b]) {
    const res = await readiness(gw);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ready');
    assert.deepEqual(res.body.store, { kind: 'redis', available: true, staleSeconds: 0 });
  }
  await waitFor(
    async () => {
      const [, count] = (await inspect.pubsub('NUMSUB', KEYS.channel)) as [string, number];
      return count === 2;
    },
    { message: 'both instances to subscribe' },
  );
});

describe('a revocation made through instance A is refused by instance B', () => {
  const propagation: Record<string, number> = {};
  after(() => {
    const line = Object.entries(propagation)
      .map(([kind, ms]) => `${kind} ${ms.toFixed(1)} ms`)
      .join(', ');
    process.stdout.write(`# propagation A -> B: ${line}\n`);
  });

  /** POST at A, then polls B until it gives `reason`; asserts and returns the delay. */
  async function propagate(kind: string, request: Record<string, unknown>, token: string, reason: string) {
    assert.equal(await verdict(b, token), 'ok', 'B accepts the token before the revocation');
    const started = performance.now();
    const res = await revoke(a, request);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor(async () => (await verdict(b, token)) === `401 ${reason}`, {
      timeoutMs: 1000,
      message: `B to refuse with ${reason}`,
    });
    const ms = performance.now() - started;
    propagation[kind] = ms;
    assert.ok(ms < 1000, `${kind} took ${ms} ms to reach B`);
    return res.body;
  }

  async function lift(record: Record<string, unknown>, token: string) {
    const res = await admin(a.adminUrl, 'DELETE', `/revocations/${String(record.id)}`);
    assert.equal(res.status, 200);
    await waitFor(async () => (await verdict(b, token)) === 'ok', {
      timeoutMs: 1000,
      message: 'B to accept again once lifted',
    });
  }

  test('key -> key_revoked, even for a token B has cached', async () => {
    const token = await sign(ring.consumer, consumerClaims());
    const record = await propagate(
      'key',
      { kind: 'key', issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' },
      token,
      'key_revoked',
    );
    assert.equal(await verdict(a, token), '401 key_revoked');
    await lift(record, token);
  });

  test('token -> token_revoked', async () => {
    const exp = NOW + 1800;
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'redis-jti-1', exp }));
    const record = await propagate(
      'token',
      { kind: 'token', issuer: 'enterprise', jti: 'redis-jti-1', exp, reason: 'leaked' },
      token,
      'token_revoked',
    );
    assert.equal(
      await verdict(b, await sign(ring.enterprise, enterpriseClaims({ jti: 'redis-jti-2' }))),
      'ok',
    );
    await lift(record, token);
  });

  test('subject with before -> subject_revoked for earlier tokens only', async () => {
    const old = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW - 1200 }));
    const record = await propagate(
      'subject',
      { kind: 'subject', issuer: 'enterprise', sub: 'bob', before: instant(NOW - 600) },
      old,
      'subject_revoked',
    );
    assert.equal(await verdict(b, await sign(ring.enterprise, enterpriseClaims({ sub: 'bob' }))), 'ok');
    await lift(record, old);
  });

  test('issuer with before -> issuer_revoked for earlier tokens only', async () => {
    const old = await sign(ring.consumer, consumerClaims({ iat: NOW - 1200 }));
    const record = await propagate(
      'issuer',
      { kind: 'issuer', issuer: 'consumer', before: instant(NOW - 600), reason: 'keys replaced' },
      old,
      'issuer_revoked',
    );
    assert.equal(await verdict(b, await sign(ring.consumer, consumerClaims())), 'ok');
    await lift(record, old);
  });
});

describe('what the store holds', () => {
  test('201 only once Redis has the record, the audit line and a new version; 200 on repeat', async () => {
    const versionBefore = Number(await inspect.get(KEYS.version));
    const res = await revoke(a, { kind: 'token', issuer: 'enterprise', jti: 'stored-jti', reason: 'leaked' });
    assert.equal(res.status, 201);
    // The answer is the stored record plus how many minted tokens it took down (none here).
    const { descendants, ...record } = res.body;
    assert.equal(descendants, 0);
    const stored = await inspect.hget(KEYS.records, String(res.body.id));
    assert.deepEqual(JSON.parse(String(stored)), record);
    assert.equal(Number(await inspect.get(KEYS.version)), versionBefore + 1);
    const audit = JSON.parse(String(await inspect.lindex(KEYS.audit, -1))) as Record<string, unknown>;
    assert.deepEqual(audit, { op: 'add', at: res.body.at, by: 'static-token', record });

    const again = await revoke(b, {
      kind: 'token',
      issuer: 'enterprise',
      jti: 'stored-jti',
      reason: 'other',
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, res.body);
    assert.equal(Number(await inspect.get(KEYS.version)), versionBefore + 1, 'a repeat writes nothing');

    // Both instances list it, whichever took the write.
    await waitFor(async () => (await listed(b)).some((r) => r.id === res.body.id), {
      timeoutMs: 1000,
      message: 'B to list it',
    });
    const lifted = await admin(b.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`);
    assert.equal(lifted.status, 200);
    assert.equal(await inspect.hget(KEYS.records, String(res.body.id)), null);
    const removal = JSON.parse(String(await inspect.lindex(KEYS.audit, -1))) as Record<string, unknown>;
    assert.equal(removal.op, 'remove');
    assert.equal(removal.id, res.body.id);
    assert.equal(removal.by, 'static-token');
  });

  test('every key shares the {rev} hash tag (one Redis Cluster slot)', async () => {
    const res = await revoke(a, { kind: 'key', issuer: 'enterprise', kid: 'not-in-use' });
    assert.equal(res.status, 201);
    // Other features keep their own keys under the prefix, each with their own tag.
    const keys = (await inspect.keys(`${PREFIX}*`)).filter((k) => k.includes('{rev}')).sort();
    assert.deepEqual(keys, [KEYS.audit, KEYS.records, KEYS.version]);
    for (const key of Object.values(redisKeys(PREFIX))) assert.match(key, /^pg-it:\{rev\}:[a-z]+$/);
    assert.equal((await admin(a.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`)).status, 200);
  });
});

test('a change published while B resubscribes reaches B when its subscription is back', async () => {
  // B's change channel drops and reconnects (a private field: the way to lose exactly that
  // connection); the long resync period rules out the periodic check as the way it arrives.
  const subscriber = (b.running.revocations.store as unknown as { link: { subscriber: Redis } }).link
    .subscriber;
  const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'during-resubscribe' }));
  assert.equal(await verdict(b, token), 'ok');
  subscriber.disconnect(true);
  const res = await revoke(a, { kind: 'token', issuer: 'enterprise', jti: 'during-resubscribe' });
  assert.equal(res.status, 201);
  await waitFor(async () => (await verdict(b, token)) === '401 token_revoked', {
    timeoutMs: 2000,
    message: 'B to refuse',
  });
  assert.equal((await admin(a.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`)).status, 200);
  await waitFor(async () => (await verdict(b, token)) === 'ok', {
    timeoutMs: 1000,
    message: 'B to accept again',
  });
});

test('token revocations expire: after exp + skew the next sync drops them from mirror and store', async () => {
  const clock = new TestClock();
  const expiryConfig = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { store: redisStore(redis.url, 'pg-expiry:', { resyncSeconds: 60 }) },
  });
  const gw = await startTestGateway(expiryConfig, { dir, clock: clock.now });
  try {
    const exp = clock.seconds + 300;
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'expiring', exp }), {
      now: clock.seconds,
    });
    const res = await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'expiring', exp });
    assert.equal(res.status, 201);
    const id = String(res.body.id);
    assert.equal(await verdict(gw, token), '401 token_revoked');

    clock.advance((300 + 59) * 1000); // past exp, not past exp + 60 s skew
    await gw.running.revocations.sync();
    assert.ok(gw.running.revocations.mirror.get(id));
    assert.notEqual(await inspect.hget('pg-expiry:{rev}:records', id), null);

    clock.advance(2000);
    await gw.running.revocations.sync();
    assert.equal(gw.running.revocations.mirror.get(id), undefined);
    assert.equal(await inspect.hget('pg-expiry:{rev}:records', id), null);
    assert.deepEqual(await listed(gw), []);
    const removal = JSON.parse(String(await inspect.lindex('pg-expiry:{rev}:audit', -1))) as Record<
      string,
      unknown
    >;
    assert.equal(removal.op, 'remove');
    assert.equal(removal.id, id);
  } finally {
    await gw.close();
  }
});

test('a gateway restart keeps every revocation, from its first request on', async () => {
  const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'before-restart' }));
  const res = await revoke(a, {
    kind: 'token',
    issuer: 'enterprise',
    jti: 'before-restart',
    reason: 'stolen laptop',
  });
  assert.equal(res.status, 201);
  await a.close();
  a = await startTestGateway(config, { dir });
  // No waiting: the restarted instance must not let the token through even once.
  assert.equal(await verdict(a, token), '401 token_revoked');
  assert.equal((await readiness(a)).body.status, 'ready');
  const { descendants: _descendants, ...stored } = res.body;
  const record = (await listed(a)).find((r) => r.id === res.body.id);
  assert.deepEqual(record, stored);
});

describe('how an instance talks to Redis', () => {
  /** Calls per command since the last CONFIG RESETSTAT (commands run by scripts included). */
  async function commandCalls(): Promise<Record<string, number>> {
    const info = await inspect.info('commandstats');
    const calls: Record<string, number> = {};
    for (const [, name, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[name!] = Number(n);
    return calls;
  }

  const clientList = async () => String(await inspect.client('LIST')).trim();
  const clients = async () => (await clientList()).split('\n').length;

  test('one process opens one connection pair for all its stores: revocations, blocks and the event stream', async () => {
    const before = await clients();
    const withProtection = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: redisStore(redis.url, 'pg-conn:', { resyncSeconds: 60 }),
        protection: {
          anomalies: {
            tokenReplay: { maxAddresses: 5, windowSeconds: 600, mode: 'enforce' },
            criticalEvent: { blockSeconds: 60, mode: 'enforce' },
          },
        },
      },
    });
    const c = await startTestGateway(withProtection, { dir });
    try {
      // A refusal, so that the event stream writes too.
      assert.equal(await verdict(c, await sign(ring.stray, enterpriseClaims())), '401 unknown_key');
      await waitFor(async () => (await inspect.xlen('pg-conn:{events}:stream')) > 0, {
        message: 'the event stream to write',
      });
      assert.equal((await clients()) - before, 2, await clientList());
    } finally {
      await c.close();
    }
    await waitFor(async () => (await clients()) === before, { message: 'its connections to close' });
  });

  test('revocation scripts are registered once and sent by digest (EVALSHA), not as source with every write', async () => {
    await inspect.config('RESETSTAT');
    for (let i = 0; i < 20; i++) {
      const res = await revoke(a, { kind: 'token', issuer: 'enterprise', jti: `evalsha-${i}` });
      assert.equal(res.status, 201);
    }
    const calls = await commandCalls();
    assert.ok((calls.eval ?? 0) <= 1, `EVAL sent ${calls.eval} times: ${JSON.stringify(calls)}`);
    assert.ok((calls.evalsha ?? 0) >= 19, `EVALSHA sent ${calls.evalsha} times`);
  });

  test('expired token revocations leave the store in one round trip, and every instance hears of each', async () => {
    // Two instances of their own whose periodic resync never fires during the test: only the
    // sync asked for below expires anything.
    const quiet = (own: string) =>
      referenceConfig(own, ring, {
        upstream: upstream.url,
        extra: { store: redisStore(redis.url, 'pg-exp:', { resyncSeconds: 3600 }) },
      });
    // Each in a folder of its own: a YAML written where another instance watches makes it
    // reload, and a reload syncs (and so expires) by itself.
    const [dirC, dirD] = [tempDir(), tempDir()];
    const c = await startTestGateway(quiet(dirC), { dir: dirC });
    const d = await startTestGateway(quiet(dirD), { dir: dirD });
    try {
      const exp = NOW - 3600; // long expired, skew included
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await revoke(c, { kind: 'token', issuer: 'enterprise', jti: `expired-${i}`, exp });
        assert.equal(res.status, 201);
        ids.push(String(res.body.id));
      }
      await waitFor(() => ids.every((id) => d.running.revocations.mirror.get(id) !== undefined), {
        message: 'D to hear of them',
      });
      await inspect.config('RESETSTAT');
      await c.running.revocations.sync();
      const calls = await commandCalls();
      assert.equal((calls.eval ?? 0) + (calls.evalsha ?? 0), 1, JSON.stringify(calls));
      assert.equal(calls.hdel, 30);
      for (const id of ids) assert.equal(await inspect.hget('pg-exp:{rev}:records', id), null);
      await waitFor(() => ids.every((id) => d.running.revocations.mirror.get(id) === undefined), {
        message: 'D to drop them by message, without a sync of its own',
      });
    } finally {
      await c.close();
      await d.close();
      for (const own of [dirC, dirD]) rmSync(own, { recursive: true, force: true });
    }
  });
});
