// Two gateway instances on one real redis-server, a transmitter pushing to one of them: the
// event is refused on the other, a SET is applied once however often and wherever it arrives,
// watermarks never fall, and a push while Redis is away is a 503 that the retry applies once.
// A verification asked of the transmitter on one instance verifies the stream when its SET comes
// back to the other; a state nobody asked for, or one used already, verifies nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import {
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
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { admin, redisStore, runCli, writeConfigFile } from '../helpers/revocation.js';
import { SSF_AUDIENCE, startTransmitterStub, type TransmitterStub } from '../helpers/ssf-transmitter-stub.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'pg-sig:';
const AUDIT = `${PREFIX}{rev}:audit`;

let redis: TestRedis;
let inspect: Redis;
let upstream: Upstream;
let ring: KeyRing;
let idp: TransmitterStub;
let a: TestGateway;
let b: TestGateway;
let dir: string;
let config: Record<string, unknown>;

before(async () => {
  [redis, upstream, ring, idp] = await Promise.all([
    startRedis(),
    startUpstream(),
    keyRing(),
    startTransmitterStub(),
  ]);
  inspect = new Redis(redis.url, { lazyConnect: true });
  await inspect.connect();
  dir = tempDir();
  // A long resync period: what B learns within a test, it learns through pub/sub.
  config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: {
      store: redisStore(redis.url, PREFIX, { resyncSeconds: 60 }),
      signals: {
        transmitters: {
          idp: {
            issuer: idp.issuer,
            keys: { url: idp.jwksUrl },
            audience: SSF_AUDIENCE,
            subjects: ['enterprise'],
            onStreamDown: 'fail-closed',
            maxTokenAgeSeconds: 60,
          },
        },
        blockOn: { 'risk-level-change': 'HIGH' },
      },
    },
  });
  a = await startTestGateway(config, { dir });
  b = await startTestGateway(config, { dir });
});

after(async () => {
  await a.close();
  await b.close();
  inspect.disconnect();
  await Promise.all([idp.close(), upstream.close(), redis.close()]);
});

const now = () => Math.floor(Date.now() / 1000);
const user = (sub: string) => ({ format: 'iss_sub', iss: ISS.enterprise, sub });

function token(sub: string, iat: number, extra: JWTPayload = {}): Promise<string> {
  return sign(ring.enterprise, enterpriseClaims({ sub, ...extra }), { now: iat });
}

async function verdict(gw: TestGateway, t: string): Promise<string> {
  const res = await get(`${gw.url}/api/mail/messages`, t);
  return res.status === 200 ? 'ok' : `${res.status} ${String(res.body.reason)}`;
}

function push(gw: TestGateway, set: string) {
  return idp.push(`${gw.url}/ssf/events`, set);
}

async function auditAdds(id: string): Promise<Record<string, unknown>[]> {
  const lines = (await inspect.lrange(AUDIT, 0, -1)).map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.filter((l) => l.op === 'add' && (l.record as { id?: string } | undefined)?.id === id);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('an event pushed to one instance', () => {
  test('is refused on the other: 202 to refusal elsewhere, measured', async () => {
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const sub = `prop-${i}`;
      const t = await token(sub, now() - 30);
      assert.equal(await verdict(b, t), 'ok');
      const set = await idp.sign({
        event: 'session-revoked',
        subject: user(sub),
        payload: { event_timestamp: now() },
      });
      const res = await push(a, set);
      assert.equal(res.status, 202, res.body);
      const started = performance.now();
      await waitFor(async () => (await verdict(b, t)) === '401 subject_revoked', {
        timeoutMs: 2000,
        intervalMs: 1,
        message: `${sub} refused on B`,
      });
      times.push(performance.now() - started);
    }
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    process.stdout.write(
      `# signal propagation, 202 on A to 401 on B (40 events): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms\n`,
    );
    assert.ok(p99 < 1000, `p99 ${p99} ms`);
  });

  test('a session, a block and a stream state reach the other instance too', async () => {
    const t = now();
    const inSession = await token('multi', t - 30, { sid: 'shared-sess' });
    await push(
      a,
      await idp.sign({
        event: 'session-revoked',
        subject: { format: 'complex', session: { format: 'opaque', id: 'shared-sess' } },
      }),
    );
    await waitFor(async () => (await verdict(b, inSession)) === '401 session_revoked', {
      message: 'session on B',
    });

    const risky = await token('shared-risky', t - 30);
    await push(
      a,
      await idp.sign({
        event: 'risk-level-change',
        subject: user('shared-risky'),
        payload: { principal: 'USER', current_level: 'HIGH', event_timestamp: t },
      }),
    );
    await waitFor(async () => (await verdict(b, risky)) === '401 signal_blocked', { message: 'block on B' });
    await push(
      b,
      await idp.sign({
        event: 'risk-level-change',
        subject: user('shared-risky'),
        payload: { principal: 'USER', current_level: 'LOW', event_timestamp: t + 1 },
      }),
    );
    await waitFor(async () => (await verdict(a, risky)) === 'ok', { message: 'block lifted on A' });

    const old = await token('stream-old', t - 120);
    await push(
      a,
      await idp.sign({ event: 'stream-updated', subject: undefined, payload: { status: 'disabled' } }),
    );
    await waitFor(async () => (await verdict(b, old)) === '401 signal_stream_down', {
      message: 'stream down on B',
    });
    const statusB = (await admin(b.adminUrl, 'GET', '/signals')).body.transmitters as Record<
      string,
      unknown
    >[];
    assert.equal(statusB[0]?.stream, 'disabled');
    assert.equal(statusB[0]?.up, false);
    await push(
      a,
      await idp.sign({ event: 'stream-updated', subject: undefined, payload: { status: 'enabled' } }),
    );
    await waitFor(async () => (await verdict(b, old)) === 'ok', { message: 'stream up on B' });
  });
});

/** Calls per command since the last CONFIG RESETSTAT (commands run by scripts included). */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await inspect.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[name!] = Number(n);
  return calls;
}

describe('signal state on the one mirroring mechanism', () => {
  test('a block made on one instance reaches the other as a versioned change message, with no reload', async () => {
    const listener = new Redis(redis.url);
    const messages: string[] = [];
    try {
      await listener.subscribe(`${PREFIX}{sig}:changes`);
      listener.on('message', (_channel: string, message: string) => messages.push(message));
      const t = now();
      const risky = await token('versioned-risky', t - 30);
      assert.equal(await verdict(b, risky), 'ok');
      await inspect.config('RESETSTAT');

      const res = await push(
        a,
        await idp.sign({
          event: 'risk-level-change',
          subject: user('versioned-risky'),
          payload: { principal: 'USER', current_level: 'HIGH', event_timestamp: t },
        }),
      );
      assert.equal(res.status, 202, res.body);
      await waitFor(async () => (await verdict(b, risky)) === '401 signal_blocked', {
        message: 'block on B',
      });
      const block = b.running.signals!.blocks().find((x) => x.sub === 'versioned-risky');
      assert.ok(block !== undefined, 'B lists the block');
      // An operator on B lifts it; A hears that the same way.
      const lifted = await admin(b.adminUrl, 'DELETE', `/signals/blocks/${block.id}`);
      assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
      await waitFor(async () => (await verdict(a, risky)) === 'ok', { message: 'block lifted on A' });
      // A resync now is a version check on each instance: both mirrors already hold the version.
      for (const gw of [a, b]) await gw.running.signals!.sync();

      const calls = await commandCalls();
      assert.equal(calls.hgetall, undefined, `no signal state was read again: ${JSON.stringify(calls)}`);
      assert.ok((calls.get ?? 0) >= 2, `each instance compared the version: ${JSON.stringify(calls)}`);
      await waitFor(() => messages.some((m) => m.includes('"op":"remove"')), { message: 'the lift message' });
      const parsed = messages.map((m) => {
        const space = m.indexOf(' ');
        return { version: Number(m.slice(0, space)), change: JSON.parse(m.slice(space + 1)) };
      });
      for (const { version } of parsed) assert.ok(Number.isSafeInteger(version), `versioned: ${messages}`);
      for (let i = 1; i < parsed.length; i++)
        assert.equal(parsed[i]!.version, parsed[i - 1]!.version + 1, `consecutive: ${messages}`);
      const put = parsed.find((p) => p.change.op === 'add' && p.change.record.type === 'block');
      assert.equal(put?.change.record.block.sub, 'versioned-risky');
      assert.ok(parsed.some((p) => p.change.op === 'remove' && p.change.id === block.id));
    } finally {
      listener.disconnect();
    }
  });
});

describe('idempotent and durable', () => {
  test('one SET sent to both instances, twice, and at once is applied once', async () => {
    const t = now();
    const set = await idp.sign({
      event: 'credential-change',
      subject: user('dup'),
      payload: { credential_type: 'password', change_type: 'revoke', event_timestamp: t },
    });
    const answers = await Promise.all([push(a, set), push(b, set)]);
    assert.deepEqual(
      answers.map((r) => r.status),
      [202, 202],
    );
    assert.equal((await push(a, set)).status, 202);
    assert.equal((await push(b, set)).status, 202);
    const records = (await admin(a.adminUrl, 'GET', '/revocations')).body.revocations as Record<
      string,
      unknown
    >[];
    const mine = records.filter((r) => r.kind === 'subject' && r.sub === 'dup');
    assert.equal(mine.length, 1);
    const adds = await auditAdds(String(mine[0]!.id));
    assert.equal(adds.length, 1, 'one add in the audit trail');
    assert.equal(adds[0]!.by, 'ssf:idp');
    const jti = JSON.parse(Buffer.from(set.split('.')[1]!, 'base64url').toString()).jti as string;
    assert.match(String((adds[0]!.record as { reason: string }).reason), new RegExp(`SET jti ${jti}`));
    const duplicates = [...a.logs.lines, ...b.logs.lines].filter(
      (l) => l.event === 'signal.duplicate' && l.jti === jti,
    );
    assert.ok(duplicates.length >= 2, 'the later arrivals are logged as duplicates');
  });

  test('watermarks out of order across instances: the later one stands', async () => {
    const t = now();
    const between = await token('ooo-redis', t - 30);
    await push(
      a,
      await idp.sign({
        event: 'session-revoked',
        subject: user('ooo-redis'),
        payload: { event_timestamp: t - 10 },
      }),
    );
    await waitFor(async () => (await verdict(b, between)) === '401 subject_revoked', {
      message: 'watermark on B',
    });
    assert.equal(
      (
        await push(
          b,
          await idp.sign({
            event: 'session-revoked',
            subject: user('ooo-redis'),
            payload: { event_timestamp: t - 100 },
          }),
        )
      ).status,
      202,
    );
    assert.equal(await verdict(a, between), '401 subject_revoked');
    assert.equal(await verdict(b, between), '401 subject_revoked');
    assert.equal(await verdict(b, await token('ooo-redis', t - 5)), 'ok');
  });

  test('Redis away during a push: 503 and nothing acknowledged; the retry is applied once', async () => {
    const t = now();
    const old = await token('outage', t - 30);
    const set = await idp.sign({
      event: 'session-revoked',
      subject: user('outage'),
      payload: { event_timestamp: t },
    });
    await redis.stop();
    try {
      const res = await push(a, set);
      assert.equal(res.status, 503, res.body);
      assert.ok(res.headers.get('retry-after') !== null);
      assert.ok(a.logs.lines.some((l) => l.event === 'signal.unavailable'));
    } finally {
      await redis.restart();
    }
    await waitFor(async () => (await push(a, set)).status === 202, {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'the retry accepted',
    });
    await waitFor(async () => (await verdict(b, old)) === '401 subject_revoked', {
      timeoutMs: 5000,
      message: 'refused on B',
    });
    assert.equal((await push(b, set)).status, 202);
    const records = (await admin(a.adminUrl, 'GET', '/revocations')).body.revocations as Record<
      string,
      unknown
    >[];
    const mine = records.filter((r) => r.kind === 'subject' && r.sub === 'outage');
    assert.equal(mine.length, 1);
    assert.equal((await auditAdds(String(mine[0]!.id))).length, 1);
  });

  test('no signal state read failed for any reason but an outage', () => {
    const failures = [...a.logs.lines, ...b.logs.lines].filter((l) => l.event === 'signal.sync_error');
    assert.deepEqual(failures, []);
  });

  test('every instance shows what any of them last received', async () => {
    const status = (await admin(b.adminUrl, 'GET', '/signals')).body.transmitters as Record<
      string,
      unknown
    >[];
    assert.equal(status[0]?.name, 'idp');
    assert.ok(typeof status[0]?.lastEventAt === 'string');
    assert.ok(typeof status[0]?.lastError === 'undefined' || typeof status[0]?.lastError === 'string');
  });
});

describe('stream verification (SSF 1.0 section 8.1.4)', () => {
  type Status = Record<string, unknown>;
  const idpOn = async (gw: TestGateway): Promise<Status> =>
    ((await admin(gw.adminUrl, 'GET', '/signals')).body.transmitters as Status[]).find(
      (t) => t.name === 'idp',
    )!;
  const verificationSet = (state: string) =>
    idp.sign({ event: 'verification', subject: { format: 'opaque', id: 'stream' }, payload: { state } });
  const unexpectedOn = (gw: TestGateway) =>
    gw.logs.lines.filter((l) => l.event === 'signal.verification_unexpected');

  test('a state nobody asked for: 202, not verified, a warning', async () => {
    const before = unexpectedOn(a).length;
    const res = await push(a, await verificationSet('forged-state-0123456789'));
    assert.equal(res.status, 202, res.body);
    const warned = unexpectedOn(a).slice(before);
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 40, 'warn');
    assert.equal(warned[0]!.transmitter, 'idp');
    for (const gw of [a, b]) {
      await waitFor(async () => (await idpOn(gw)).lastVerification === 'unexpected', {
        message: 'the unexpected verification shown',
      });
      assert.equal((await idpOn(gw)).lastVerifiedAt, undefined);
    }
  });

  test('asked on A, its SET pushed back to B: verified on both; the state counts once', async () => {
    idp.verificationDelivery = `${b.url}/ssf/events`;
    try {
      const asked = await admin(a.adminUrl, 'POST', '/signals/idp/verify');
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      // Found in the transmitter's /.well-known/ssf-configuration (keys come from a jwks URL).
      assert.equal(asked.body.endpoint, idp.verificationUrl);
      const request = idp.verificationRequests.at(-1)!;
      const state = String(request.body.state);
      assert.match(state, /^[A-Za-z0-9_-]{22}$/, '128 random bits, base64url');
      assert.equal(request.body.stream_id, undefined);
      await waitFor(async () => idp.verificationPushes.length === 1, { message: 'the SET pushed back' });
      assert.equal(idp.verificationPushes[0]!.status, 202);
      for (const gw of [a, b]) {
        await waitFor(async () => (await idpOn(gw)).lastVerification === 'verified', {
          message: 'verified on every instance',
        });
        const shown = await idpOn(gw);
        assert.ok(String(shown.lastVerifiedAt) >= String(asked.body.requestedAt));
      }
      assert.deepEqual(await inspect.keys(`${PREFIX}{sig}:verify:*`), [], 'the state is used up');
      const verifiedAt = (await idpOn(a)).lastVerifiedAt;

      // The same state again, in a new SET: acknowledged, and it verifies nothing.
      const before = unexpectedOn(a).length;
      assert.equal((await push(a, await verificationSet(state))).status, 202);
      assert.equal(unexpectedOn(a).length, before + 1);
      for (const gw of [a, b]) {
        await waitFor(async () => (await idpOn(gw)).lastVerification === 'unexpected', {
          message: 'the replayed state not taken',
        });
        assert.equal((await idpOn(gw)).lastVerifiedAt, verifiedAt);
      }
    } finally {
      idp.verificationDelivery = undefined;
    }
  });

  test('a state asked for waits in Redis, bounded in time, until its SET comes', async () => {
    const asked = await admin(b.adminUrl, 'POST', '/signals/idp/verify');
    assert.equal(asked.status, 202);
    const keys = await inspect.keys(`${PREFIX}{sig}:verify:*`);
    assert.equal(keys.length, 1);
    const ttl = await inspect.pttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 10 * 60_000, `PTTL ${ttl}`);
    assert.ok(
      Date.parse(String(asked.body.expiresAt)) - Date.parse(String(asked.body.requestedAt)) <= 600_000,
    );
    // Answered late, to A: it still counts.
    const state = String(idp.verificationRequests.at(-1)!.body.state);
    assert.equal((await push(a, await verificationSet(state))).status, 202);
    await waitFor(async () => (await idpOn(b)).lastVerification === 'verified', { message: 'verified' });
    assert.deepEqual(await inspect.keys(`${PREFIX}{sig}:verify:*`), []);
  });

  test('an unknown transmitter is a 404; one that names no verification endpoint, a 409', async () => {
    const unknown = await admin(a.adminUrl, 'POST', '/signals/nobody/verify');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'unknown_transmitter');
    idp.advertiseVerification = false;
    try {
      const none = await admin(a.adminUrl, 'POST', '/signals/idp/verify');
      assert.equal(none.status, 409);
      assert.equal(none.body.error, 'no_verification_endpoint');
    } finally {
      idp.advertiseVerification = true;
    }
  });

  test('provgate signals verify --wait, then signals status shows it verified', async () => {
    idp.verificationDelivery = `${a.url}/ssf/events`;
    try {
      const file = writeConfigFile(dir, 'cli-verify.yaml', {
        ...config,
        admin: { ...(config.admin as object), port: Number(new URL(b.adminUrl).port) },
      });
      const before = idp.verificationRequests.length;
      const verified = await runCli([
        'signals',
        'verify',
        '--transmitter',
        'idp',
        '--wait',
        '10',
        '--config',
        file,
      ]);
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(idp.verificationRequests.length, before + 1);
      assert.match(verified.stdout, /^verification of idp asked for at http:\/\/127\.0\.0\.1:\d+\/verify/m);
      assert.match(verified.stdout, /^idp verified at \d{4}-/m);
      const status = await runCli(['signals', 'status', '--config', file]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^ {2}verified: \d{4}-\d\d-\d\dT/m);
    } finally {
      idp.verificationDelivery = undefined;
    }
  });
});
