import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { eventsTailCommand } from '../../src/cli/events-command.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'evtest:';
const STREAM = `${PREFIX}{events}:stream`;
let redis: TestRedis;
let upstream: Upstream;
let shared: TestGateway;
let local: TestGateway;

before(async () => {
  redis = await startRedis();
  upstream = await startUpstream();
  const ring = await keyRing();
  const dir = tempDir();
  shared = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: { kind: 'redis', url: redis.url, prefix: PREFIX },
        events: { streamMaxLength: 100 },
        log: { level: 'silent' },
      },
    }),
    { dir },
  );
  const localDir = tempDir();
  local = await startTestGateway(
    referenceConfig(localDir, ring, { upstream: upstream.url, extra: { log: { level: 'silent' } } }),
    { dir: localDir },
  );
});
after(async () => {
  await shared.close();
  await local.close();
  await upstream.close();
  await redis.close();
});

/** The running gateway's config as the CLI reads it, with the ports it actually bound. */
function cliConfig(gw: TestGateway): Config {
  const { config } = loadConfigFile(`${gw.dir}/gateway.yaml`);
  return { ...config, admin: { ...config.admin, port: Number(new URL(gw.adminUrl).port) } };
}

/**
 * Runs `provgate events tail` around `act` and returns the lines it printed. With the Redis store
 * the tail is following once it blocks in XREAD, and has shown everything once the gateway's
 * batch is written and it blocks again; with the memory store it follows from its second call
 * to the admin API (the first that carries `after`) and has shown everything at `expected` lines.
 */
async function tail(
  gw: TestGateway,
  severity: 'high' | undefined,
  act: () => Promise<void>,
  expected: number,
) {
  const lines: Record<string, unknown>[] = [];
  const controller = new AbortController();
  const probe = gw.running.compiled.config.store.kind === 'redis' ? new Redis(redis.url) : undefined;
  const blocked = async () =>
    ((await probe!.client('LIST')) as string)
      .split('\n')
      .some((client) => client.includes(' flags=b ') && client.includes(' cmd=xread '));
  let asked = 0;
  const count = (req: IncomingMessage) => {
    if (req.url?.startsWith('/events')) asked += 1;
  };
  gw.running.admin.server.on('request', count);
  try {
    const done = eventsTailCommand(
      cliConfig(gw),
      { severity },
      (line) => lines.push(JSON.parse(line)),
      controller.signal,
    );
    await waitFor(probe ? blocked : () => asked >= 2, { timeoutMs: 5000, message: 'the tail to follow' });
    await act();
    if (probe) {
      await gw.running.observability.stream!.flush();
      await waitFor(blocked, { timeoutMs: 6000, message: 'the tail to read the stream to its end' });
    } else {
      await waitFor(() => lines.length >= expected, {
        timeoutMs: 6000,
        intervalMs: 20,
        message: () => `${expected} lines, got ${JSON.stringify(lines)}`,
      });
    }
    controller.abort();
    await done;
  } finally {
    gw.running.admin.server.off('request', count);
    probe?.disconnect();
  }
  return lines;
}

test('refusals go to the capped Redis stream, and `events tail --severity high` follows it', async () => {
  const ring = await keyRing();
  const forged = await sign(ring.consumer, enterpriseClaims());
  const lines = await tail(
    shared,
    'high',
    async () => {
      assert.equal((await get(`${shared.url}/api/mail/messages`)).status, 401); // low: not shown
      assert.equal((await get(`${shared.url}/api/mail/messages`, forged)).status, 401); // critical
    },
    1,
  );
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]!.reason, 'key_issuer_mismatch');
  assert.equal(lines[0]!.severity, 'critical');
  assert.equal(lines[0]!.signatureValid, true);
  assert.match(String(lines[0]!.instance), /:\d+$/);
  assert.ok(!JSON.stringify(lines).includes(forged), 'the token itself never reaches the stream');

  const client = new Redis(redis.url);
  try {
    const [newest] = (await client.xrevrange(STREAM, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const fields = newest?.[1] ?? [];
    assert.deepEqual(fields.slice(0, 6), [
      'event',
      'auth.refused',
      'severity',
      'critical',
      'kind',
      'key_issuer_mismatch',
    ]);
    // Capped with MAXLEN ~ 100: Redis trims whole nodes (100 entries each), so a little over is normal.
    for (let i = 0; i < 300; i++) await get(`${shared.url}/api/mail/messages`);
    await shared.running.observability.stream!.flush();
    const length = await client.xlen(STREAM);
    assert.ok(length >= 100 && length < 300, `stream length ${length}`);
  } finally {
    client.disconnect();
  }
});

test('with Redis away, refusals are answered at once and the stream only counts what it drops', async () => {
  await redis.stop();
  try {
    const started = performance.now();
    for (let i = 0; i < 20; i++) assert.equal((await get(`${shared.url}/api/mail/messages`)).status, 401);
    assert.ok(performance.now() - started < 2000);
    await shared.running.observability.stream!.flush();
    const metrics = await (await fetch(`${shared.adminUrl}/metrics`)).text();
    assert.match(metrics, /provgate_security_events_streamed_total \d+/);
  } finally {
    await redis.restart();
  }
});

test('with the memory store, /events and `events tail` read the gateway ring over the admin API', async () => {
  const unauthorized = await fetch(`${local.adminUrl}/events`);
  assert.equal(unauthorized.status, 401);
  const ring = await keyRing();
  const forged = await sign(ring.consumer, enterpriseClaims());
  const lines = await tail(
    local,
    undefined,
    async () => {
      await get(`${local.url}/api/mail/messages`);
      await get(`${local.url}/api/mail/messages`, forged);
    },
    2,
  );
  assert.deepEqual(
    lines.map((l) => l.reason),
    ['missing_token', 'key_issuer_mismatch'],
  );
  const res = await get(`${local.adminUrl}/events?severity=critical`, 'test-admin-token-0123456789');
  assert.equal(res.status, 200);
  const events = res.body.events as { event: { reason: string } }[];
  assert.ok(events.length >= 1 && events.every((e) => e.event.reason === 'key_issuer_mismatch'));
  assert.equal(
    (await get(`${local.adminUrl}/events?severity=urgent`, 'test-admin-token-0123456789')).status,
    400,
  );
});
