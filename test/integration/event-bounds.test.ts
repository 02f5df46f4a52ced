// What a token claims is the sender's choice, and every refusal writes it into a log line, the
// in-memory ring and the shared Redis stream. Black-box probe this replays: kid, iss, sub and jti
// of 11 KB each went into the log and the stream untruncated; 2,000 requests added 24.6 MB to
// Redis, and at the stream's entry cap an anonymous client could have filled about 1.2 GB.
// Here, through a real gateway on a real Redis: each field is bounded (256 characters with a
// marker), and the stream stays under `events.streamMaxBytes` however heavy its entries are.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisEventStream } from '../../src/observability/event-stream.js';
import { createLogger } from '../../src/observability/logger.js';
import type { SecurityEventRecord } from '../../src/observability/security-events.js';
import {
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'bounds:';
const STREAM = `${PREFIX}{events}:stream`;
const MAX_BYTES = 256 * 1024;
const FIELD = 11 * 1024;

let redis: TestRedis;
let client: Redis;
let upstream: Upstream;
let ring: KeyRing;
let gw: TestGateway;

before(async () => {
  [redis, upstream, ring] = await Promise.all([startRedis(), startUpstream(), keyRing()]);
  client = new Redis(redis.url);
  const dir = tempDir();
  gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: { kind: 'redis', url: redis.url, prefix: PREFIX },
        // Room for four 11 KB claims in one token: the probe's own setting.
        verification: { maxTokenBytes: 65_536 },
        events: { streamMaxBytes: MAX_BYTES },
      },
    }),
    { dir },
  );
});
after(async () => {
  await gw.close();
  client.disconnect();
  await upstream.close();
  await redis.close();
});

/** A token of an issuer nobody configured, whose every identifying field is `FIELD` long. */
function heavyToken(n: number): Promise<string> {
  const pad = (c: string) => `${n}-`.padEnd(FIELD, c);
  return sign(
    ring.stray,
    { iss: `https://evil.example.test/${pad('i')}`, sub: pad('s'), jti: pad('j'), aud: 'x' },
    { header: { kid: pad('k') } },
  );
}

const streamBytes = async () => Number(await client.call('MEMORY', 'USAGE', STREAM, 'SAMPLES', '0'));

function assertBounded(value: unknown, name: string): void {
  assert.equal(typeof value, 'string', name);
  const text = value as string;
  assert.ok(text.length <= 256, `${name} is ${text.length} characters`);
  assert.match(text, /…\[\+\d+\]$/, `${name} ends with the marker`);
  const cut = Number(/\[\+(\d+)\]$/.exec(text)![1]);
  assert.ok(cut > FIELD - 256, `${name}: the marker counts what was cut (${cut})`);
}

describe('token-derived fields of an event', () => {
  test('an 11 KB kid, iss, sub and jti are bounded in the log line and in the stream entry', async () => {
    const token = await heavyToken(0);
    const res = await get(`${gw.url}/api/mail/heavy`, token);
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'unknown_issuer');

    const event = gw.logs.events('unknown_issuer').at(-1)!;
    for (const name of ['kid', 'claimedIssuer', 'sub', 'jti']) assertBounded(event[name], `log ${name}`);
    assert.ok((event.kid as string).startsWith('0-kkkk'), 'the bounded value keeps its beginning');
    assert.ok(!gw.logs.text.includes('k'.repeat(300)), 'no long run of the kid anywhere in the log');

    await gw.running.observability.stream!.flush();
    const [newest] = (await client.xrevrange(STREAM, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const fields = newest![1];
    const data = JSON.parse(fields[fields.indexOf('data') + 1]!) as Record<string, unknown>;
    assert.equal(data.reason, 'unknown_issuer');
    for (const name of ['kid', 'claimedIssuer', 'sub', 'jti']) assertBounded(data[name], `stream ${name}`);
    assert.ok(fields.join('').length < 3000, `the entry is ${fields.join('').length} characters`);
  });
});

describe('the stream in bytes', () => {
  test('many heavy refusals keep the stream under events.streamMaxBytes', async (t) => {
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => heavyToken(i + 1)));
    // 600 refusals of ~1.45 KB each in Redis: 870 KB against a 256 KiB budget (and ~27 MB before
    // the fields were bounded; the entry cap of 100,000 would never have trimmed any).
    for (let round = 0; round < 12; round++) {
      await Promise.all(tokens.map((t) => get(`${gw.url}/api/mail/heavy`, t)));
    }
    await gw.running.observability.stream!.flush();
    const bytes = await streamBytes();
    const length = await client.xlen(STREAM);
    t.diagnostic(`${bytes} bytes in ${length} entries (budget ${MAX_BYTES})`);
    assert.ok(bytes <= MAX_BYTES * 1.05, `the stream holds ${bytes} bytes in ${length} entries`);
    assert.ok(bytes >= MAX_BYTES * 0.5, `still as full as the budget allows: ${bytes} bytes`);
    assert.ok(gw.running.observability.stream!.written >= 600);
  });

  test('entries it did not write itself (another instance, an older run) are weighed and trimmed too', async (t) => {
    // As another instance might have left it: 1 MB of heavy entries, four times the budget.
    const pipeline = client.pipeline();
    for (let i = 0; i < 250; i++) pipeline.xadd(STREAM, '*', 'event', 'anomaly', 'data', 'x'.repeat(4096));
    await pipeline.exec();
    assert.ok((await streamBytes()) > MAX_BYTES * 3);
    // What the flush timer does every 10 s, now rather than after a wait.
    await gw.running.observability.stream!.measure();
    const bytes = await streamBytes();
    t.diagnostic(`${bytes} bytes after the measurement`);
    assert.ok(bytes <= MAX_BYTES * 1.05, `after the measurement the stream holds ${bytes} bytes`);
  });
});

describe('events of every kind', () => {
  test('an event made elsewhere (an anomaly, an admin event) is bounded on its way into the stream', async () => {
    const key = `${PREFIX}other:{events}:stream`;
    const stream = new RedisEventStream(
      new Redis(redis.url),
      { key, maxLength: 1000, maxBytes: 1024 * 1024 },
      createLogger('silent'),
    );
    const events = [
      { event: 'anomaly', rule: 'volume_spike', severity: 'high', subject: 's'.repeat(FIELD) },
      { event: 'admin.static_token_used', severity: 'high', path: `/${'p'.repeat(FIELD)}` },
    ];
    for (const event of events) stream.push(event as unknown as SecurityEventRecord, Date.now());
    await stream.close();
    const entries = (await client.xrange(key, '-', '+')) as [string, string[]][];
    assert.deepEqual(
      entries.map(([, fields]) => fields[fields.indexOf('kind') + 1]),
      ['volume_spike', 'admin.static_token_used'],
    );
    const [anomaly, admin] = entries.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!));
    assertBounded(anomaly.subject, 'anomaly subject');
    assertBounded(admin.path, 'admin path');
  });
});
