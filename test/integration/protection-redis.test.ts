// Blocks shared through Redis by two gateway instances: a token replayed from 20 addresses is
// refused by both, a burst of failures spread over both blocks its source on both, a block lifted
// through one instance (or the CLI) is lifted everywhere, and a block outlives the instance that
// made it but not its expiry.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { listBlocksCommand, unblockCommand } from '../../src/cli/block-commands.js';
import { loadConfigFile } from '../../src/config/load-config.js';
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
import { admin, redisStore } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'pg-prot:';

let redis: TestRedis;
let inspect: Redis;
let ring: KeyRing;
let upstream: Upstream;
let clock: TestClock;
let config: Record<string, unknown>;
let dir: string;
let a: TestGateway;
let b: TestGateway;

before(async () => {
  [redis, ring, upstream] = await Promise.all([startRedis(), keyRing(), startUpstream()]);
  inspect = new Redis(redis.url);
  inspect.on('error', () => {}); // Redis is stopped on purpose below
  clock = new TestClock();
  ({ config, dir } = protectedConfig(
    ring,
    upstream,
    {
      anomalies: {
        tokenReplay: { maxAddresses: 5, windowSeconds: 600, mode: 'enforce' },
        failureBurst: { maxFailures: 4, windowSeconds: 60, blockSeconds: 60, mode: 'enforce' },
      },
      // Batches are flushed by hand below, so that every step is deterministic.
      shareIntervalMilliseconds: 5000,
    },
    // A long resync: whatever B learns during a test, it learns by pub/sub.
    { store: redisStore(redis.url, PREFIX, { resyncSeconds: 60 }) },
  ));
  a = await startTestGateway(config, { dir, clock: clock.now });
  b = await startTestGateway(config, { dir, clock: clock.now });
});
after(async () => {
  closeClients(); // first, or each gateway waits out its drain grace for our idle sockets
  await a.close();
  await b.close();
  inspect.disconnect();
  await redis.close();
  await upstream.close();
});

/** Calls per command since the last CONFIG RESETSTAT (commands run by scripts included). */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await inspect.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[name!] = Number(n);
  return calls;
}

function flush(gw: TestGateway): Promise<void> {
  return gw.running.protection!.sync.flush();
}

describe('token replay across instances', () => {
  let stolen: string;
  let blockId: string;

  test('a token replayed from 20 addresses, alternating instances, is blocked on every instance', async () => {
    stolen = await sign(ring.enterprise, enterpriseClaims({ sub: 'mallory-victim' }), { now: clock.seconds });
    const verdicts: string[] = [];
    let propagationMs = -1;
    for (let i = 0; i < 20; i++) {
      const [here, there] = i % 2 === 0 ? [a, b] : [b, a];
      verdicts.push(await verdictFrom(here, loopback(100 + i), stolen));
      await flush(here); // the batch that carries this sighting to the cluster
      if (propagationMs < 0 && here.running.protection!.blocks.list().length > 0) {
        propagationMs = await waitFor(
          async () => {
            return there.running.protection!.blocks.list().length > 0;
          },
          { message: 'the block on the other instance' },
        );
      }
    }
    // Each instance saw only half the addresses; the cluster saw all of them. The sixth address
    // was the one too many: its batch decided the block, and from then on nothing was served.
    assert.deepEqual(verdicts, [...Array(6).fill('ok'), ...Array(14).fill('401 token_blocked')]);
    assert.ok(propagationMs >= 0 && propagationMs < 1000, `propagated in ${propagationMs} ms`);
    for (const gw of [a, b]) assert.equal(await verdictFrom(gw, loopback(100), stolen), '401 token_blocked');

    const events = [...anomalies(a.logs, 'token_replay'), ...anomalies(b.logs, 'token_replay')];
    assert.equal(events.length, 1, 'one instance decided, one event');
    assert.equal(events[0]!.action, 'blocked');
    assert.equal((events[0]!.counts as Record<string, number>).distinctAddresses, 6);
    assert.equal((events[0]!.addresses as string[]).length, 6);
    blockId = String(events[0]!.blockId);
  });

  test('the block reached the other instance with its version: neither resync reads the blocks again', async () => {
    await inspect.config('RESETSTAT');
    for (const gw of [a, b]) await gw.running.protection!.blocks.sync();
    const calls = await commandCalls();
    assert.equal(calls.hgetall, undefined, `no block was read again: ${JSON.stringify(calls)}`);
    assert.ok((calls.get ?? 0) >= 2, 'each instance compared the version');
  });

  test('an instance started after the block refuses the token from its first request', async () => {
    const c = await startTestGateway(config, { dir, clock: clock.now });
    try {
      assert.equal(await verdictFrom(c, loopback(100), stolen), '401 token_blocked');
    } finally {
      await c.close();
    }
  });

  test('lifting the block through one instance lifts it on all', async () => {
    const res = await admin(b.adminUrl, 'DELETE', `/blocks/${blockId}`);
    assert.equal(res.status, 200);
    await waitFor(async () => (await verdictFrom(a, loopback(100), stolen)) === 'ok', {
      message: 'A to serve again',
    });
    assert.equal(await verdictFrom(b, loopback(101), stolen), 'ok');
  });
});

describe('failure bursts across instances', () => {
  test('failures spread over both instances add up, and the source is blocked on both until the block expires', async () => {
    const forged = await sign(ring.stray, enterpriseClaims());
    const valid = await sign(ring.enterprise, enterpriseClaims(), { now: clock.seconds });
    const source = '127.0.0.77';
    for (let i = 0; i < 3; i++) assert.equal(await verdictFrom(a, source, forged), '401 unknown_key');
    for (let i = 0; i < 2; i++) assert.equal(await verdictFrom(b, source, forged), '401 unknown_key');
    // Neither instance alone saw more than 4; together they saw 5.
    assert.equal(await verdictFrom(a, source, valid), 'ok');
    await flush(a);
    await flush(b);
    await waitFor(async () => (await verdictFrom(a, source, valid)) === '403 blocked_source', {
      message: 'A to hear of the block',
    });
    assert.equal(await verdictFrom(b, source, valid), '403 blocked_source');
    assert.equal(await verdictFrom(b, '127.0.0.78', valid), 'ok');

    clock.advance(61_000);
    for (const gw of [a, b]) assert.equal(await verdictFrom(gw, source, valid), 'ok');
    await a.running.protection!.blocks.sync();
    const stored = await inspect.hgetall(`${PREFIX}{prot}:blocks`);
    assert.ok(
      !Object.values(stored).some((json) => (JSON.parse(json) as { value: string }).value === source),
      'the expired block is pruned from Redis',
    );
  });
});

describe('operator tools and key layout', () => {
  test('provgate blocks list and provgate unblock work against Redis with no gateway involved', async () => {
    const storm = await sign(ring.consumer, enterpriseClaims());
    const valid = await sign(ring.enterprise, enterpriseClaims(), { now: clock.seconds });
    // criticalEvent is off in this config; force a burst instead.
    for (let i = 0; i < 5; i++) await verdictFrom(a, '127.0.0.79', storm);
    await flush(a);
    assert.equal(await verdictFrom(a, '127.0.0.79', valid), '403 blocked_source');

    const parsed = loadConfigFile(join(dir, 'gateway.yaml')).config;
    const lines: string[] = [];
    await listBlocksCommand(parsed, (line) => lines.push(line));
    const line = lines.find((l) => l.includes('127.0.0.79'));
    assert.ok(line, lines.join('\n'));
    assert.match(line, /^address-[0-9a-f]{16} {2}address 127\.0\.0\.79 {2}failure_burst \(blocked_source\)/);
    const id = line.split(' ')[0]!;

    const out: string[] = [];
    await unblockCommand(parsed, id, (l) => out.push(l));
    assert.match(out[0]!, /^lifted: /);
    await waitFor(
      async () => {
        const verdicts = await Promise.all([a, b].map((gw) => verdictFrom(gw, '127.0.0.79', valid)));
        return verdicts.every((v) => v === 'ok');
      },
      { message: 'both instances to serve again' },
    );
    await assert.rejects(
      unblockCommand(parsed, id, () => {}),
      /no active block/,
    );
  });

  test('every key lives under one hash tag, so the layout works on Redis Cluster', async () => {
    const keys = await inspect.keys(`${PREFIX}*`);
    // Blocks, counters and sightings (other stores keep their own tags).
    const protection = keys.filter((k) => /:(blocks|c:|tr:)/.test(k));
    assert.ok(protection.length > 0);
    for (const key of protection) assert.ok(key.startsWith(`${PREFIX}{prot}:`), key);
    assert.ok(protection.some((k) => k.startsWith(`${PREFIX}{prot}:tr:`)));
    assert.ok(protection.some((k) => k.startsWith(`${PREFIX}{prot}:c:fb:`)));
    const ttl = await inspect.pttl(protection.find((k) => k.includes(':tr:'))!);
    assert.ok(ttl > 0 && ttl <= 600_000, `sightings expire (${ttl} ms)`);
  });
});

describe('Redis away', () => {
  test('each instance keeps judging alone, and a block decided meanwhile reaches every instance when Redis returns', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'offline-victim' }), {
      now: clock.seconds,
    });
    await redis.stop();
    const verdicts: string[] = [];
    for (let i = 0; i < 7; i++) verdicts.push(await verdictFrom(a, loopback(150 + i), token));
    // A alone saw six addresses: the sixth is one too many, whatever the cluster knows.
    assert.deepEqual(verdicts, [...Array(5).fill('ok'), '401 token_blocked', '401 token_blocked']);
    assert.equal(await verdictFrom(b, loopback(150), token), 'ok', 'B has not heard of it');

    await redis.restart();
    const key = `${PREFIX}{prot}:blocks`;
    await waitFor(
      async () => {
        const stored = await inspect.hgetall(key).catch(() => ({}));
        return Object.values(stored).some(
          (json) =>
            (JSON.parse(json) as { rule: string; evidence: { subject?: string } }).evidence.subject ===
            'offline-victim',
        );
      },
      { timeoutMs: 5000, message: 'the block to reach Redis' },
    );
    // B hears of it by message once resubscribed, or by its resync once reconnected (it may
    // still be reconnecting when the block reaches Redis).
    await waitFor(
      async () => {
        await b.running.protection!.blocks.sync(); // what B's periodic resync does
        return (await verdictFrom(b, loopback(150), token)) === '401 token_blocked';
      },
      { message: 'B to refuse the token' },
    );
  });
});
