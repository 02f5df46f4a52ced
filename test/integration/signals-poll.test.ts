// RFC 8936 poll delivery against a real transmitter on loopback: only applied SETs are
// acknowledged, refused ones come back as setErrs, errors back off, and a gateway killed in the
// middle of a batch loses nothing (the next one applies the rest, and nothing twice).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
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
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { get } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { admin, redisStore } from '../helpers/revocation.js';
import { SSF_AUDIENCE, startTransmitterStub, type TransmitterStub } from '../helpers/ssf-transmitter-stub.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const POLL_AUTH = 'Bearer poll-credential-0123456789';

let ring: KeyRing;
let upstream: Upstream;

before(async () => {
  [ring, upstream] = await Promise.all([keyRing(), startUpstream()]);
});

after(async () => {
  await upstream.close();
});

const now = () => Math.floor(Date.now() / 1000);
const user = (sub: string) => ({ format: 'iss_sub', iss: ISS.enterprise, sub });

function signalsFor(stub: TransmitterStub, poll: Record<string, unknown> = {}) {
  return {
    transmitters: {
      idp: {
        issuer: stub.issuer,
        keys: { url: stub.jwksUrl },
        audience: SSF_AUDIENCE,
        subjects: ['enterprise'],
        delivery: 'poll',
        poll: { url: stub.pollUrl, authorization: POLL_AUTH, intervalSeconds: 0.05, ...poll },
      },
    },
  };
}

async function revocationSet(stub: TransmitterStub, sub: string, jti: string): Promise<string> {
  return stub.sign({
    event: 'credential-change',
    jti,
    subject: user(sub),
    payload: { credential_type: 'password', change_type: 'revoke', event_timestamp: now() },
  });
}

describe('a poll transmitter', () => {
  let stub: TransmitterStub;
  let gw: TestGateway;

  before(async () => {
    stub = await startTransmitterStub();
    const dir = tempDir();
    gw = await startTestGateway(
      referenceConfig(dir, ring, { upstream: upstream.url, extra: { signals: signalsFor(stub) } }),
      {
        dir,
      },
    );
  });

  after(async () => {
    await gw.close();
    await stub.close();
  });

  test('its SETs are applied, acknowledged once applied, and refused ones reported as setErrs', async () => {
    const old = await sign(ring.enterprise, enterpriseClaims({ sub: 'polled-user' }), { now: now() - 30 });
    assert.equal((await get(`${gw.url}/api/mail/m`, old)).status, 200);
    stub.queue('good-1', await revocationSet(stub, 'polled-user', 'good-1'));
    stub.queue(
      'bad-aud',
      await stub.sign({
        event: 'session-revoked',
        jti: 'bad-aud',
        subject: user('x'),
        aud: 'https://nobody.example.test',
      }),
    );
    stub.queue('mismatch', await revocationSet(stub, 'polled-other', 'not-the-key'));
    await waitFor(() => stub.pending.size === 0, {
      timeoutMs: 5000,
      message: 'the batch acknowledged or refused',
    });
    assert.deepEqual(stub.acked, ['good-1']);
    assert.equal(stub.setErrs['bad-aud']?.err, 'invalid_audience');
    assert.equal(stub.setErrs.mismatch?.err, 'invalid_request');
    assert.equal((await get(`${gw.url}/api/mail/m`, old)).body.reason, 'subject_revoked');
    assert.ok(
      stub.pollRequests.every((r) => r.authorization === POLL_AUTH),
      'every poll carries its credential',
    );
    // The acknowledgement came in a request after the SET was applied, never before.
    const ackedIn = stub.pollRequests.findIndex((r) => r.ack.includes('good-1'));
    assert.ok(ackedIn > 0);
  });

  test('poll errors back off, and polling recovers', async () => {
    stub.pollMode = 'error';
    const before = stub.pollRequests.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const during = stub.pollRequests.length - before;
    // Every 50 ms without backoff (about 50 requests); 0.5 s, 1 s, 2 s with it.
    assert.ok(during <= 5, `${during} polls in 2.5 s of errors`);
    const status = (await admin(gw.adminUrl, 'GET', '/signals')).body.transmitters as {
      poll: { consecutiveFailures: number; lastError: string };
    }[];
    assert.ok(status[0]!.poll.consecutiveFailures >= 2);
    assert.equal(status[0]!.poll.lastError, 'HTTP 500');
    assert.ok(gw.logs.lines.some((l) => l.event === 'signal.poll_failed'));
    stub.pollMode = 'ok';
    stub.queue('after-outage', await revocationSet(stub, 'polled-late', 'after-outage'));
    await waitFor(() => stub.acked.includes('after-outage'), {
      timeoutMs: 6000,
      message: 'applied after the outage',
    });
  });
});

describe('verifying a polled stream', () => {
  let stub: TransmitterStub;
  let gw: TestGateway;

  before(async () => {
    stub = await startTransmitterStub();
    // Not in its configuration document: the configured endpoint is the one asked.
    stub.advertiseVerification = false;
    stub.verificationDelivery = 'poll';
    const signals = signalsFor(stub);
    Object.assign(signals.transmitters.idp, {
      verificationEndpoint: stub.verificationUrl,
      streamId: 'stream-42',
    });
    const dir = tempDir();
    gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url, extra: { signals } }), {
      dir,
    });
  });

  after(async () => {
    await gw.close();
    await stub.close();
  });

  test('the request carries the stream id and the poll credential; the polled SET verifies it, once', async () => {
    const asked = await admin(gw.adminUrl, 'POST', '/signals/idp/verify');
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    assert.equal(asked.body.endpoint, stub.verificationUrl);
    const request = stub.verificationRequests.at(-1)!;
    assert.equal(request.authorization, POLL_AUTH);
    assert.equal(request.body.stream_id, 'stream-42');
    const idp = async () =>
      ((await admin(gw.adminUrl, 'GET', '/signals')).body.transmitters as Record<string, unknown>[])[0]!;
    await waitFor(async () => (await idp()).lastVerification === 'verified', { message: 'verified by poll' });
    await waitFor(async () => stub.pending.size === 0, { message: 'acknowledged' });
    assert.equal(
      gw.logs.lines.filter((l) => l.event === 'signal.verification_unexpected').length,
      0,
      'the state was the one asked for',
    );
    // The transmitter sending it once more, as a new SET: not a second verification.
    const jti = 'verification-again';
    stub.queue(
      jti,
      await stub.sign({
        jti,
        event: 'verification',
        subject: { format: 'opaque', id: 'stream-42' },
        payload: { state: String(request.body.state) },
      }),
    );
    await waitFor(async () => (await idp()).lastVerification === 'unexpected', { message: 'not again' });
    assert.ok(gw.logs.lines.some((l) => l.event === 'signal.verification_unexpected' && l.jti === jti));
  });
});

describe('a gateway killed in the middle of a poll batch', () => {
  let redis: TestRedis;
  let inspect: Redis;
  let stub: TransmitterStub;

  before(async () => {
    [redis, stub] = await Promise.all([startRedis(), startTransmitterStub()]);
    inspect = new Redis(redis.url, { lazyConnect: true });
    await inspect.connect();
  });

  after(async () => {
    inspect.disconnect();
    await stub.close();
    await redis.close();
  });

  test('loses nothing: the next instance applies the rest, and nothing twice', async () => {
    const total = 200;
    for (let i = 0; i < total; i++)
      stub.queue(`batch-${i}`, await revocationSet(stub, `batch-user-${i}`, `batch-${i}`));
    const dir = tempDir();
    const config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: { store: redisStore(redis.url, 'pg-poll:'), signals: signalsFor(stub, { maxEvents: 100 }) },
    });
    const audit = 'pg-poll:{rev}:audit';
    const first = await startGatewayProcess(config, dir);
    // SIGKILL once some of the first batch is stored: no acknowledgement has been sent for them.
    await waitFor(async () => (await inspect.llen(audit)) >= 10, {
      timeoutMs: 10_000,
      intervalMs: 1,
      message: 'ten applied',
    }).catch((err) => {
      process.stdout.write(first.output());
      throw err;
    });
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const appliedBefore = await inspect.llen(audit);
    process.stdout.write(`# killed with ${appliedBefore} of ${total} SETs applied\n`);
    assert.ok(appliedBefore < total, `killed mid-batch (${appliedBefore} of ${total} applied)`);
    assert.equal(stub.acked.length, 0, 'nothing was acknowledged before it was applied');

    const second = await startGatewayProcess(config, dir);
    try {
      await waitFor(() => stub.acked.length === total, {
        timeoutMs: 20_000,
        message: 'every SET acknowledged',
      });
      const lines = (await inspect.lrange(audit, 0, -1)).map(
        (l) => JSON.parse(l) as { op: string; record: { sub: string } },
      );
      const adds = lines.filter((l) => l.op === 'add');
      assert.equal(adds.length, total, 'each SET applied exactly once');
      assert.equal(new Set(adds.map((l) => l.record.sub)).size, total);
      assert.equal(new Set(stub.acked).size, total, 'each acknowledged once');
      assert.deepEqual(stub.setErrs, {});
      assert.match(
        second.output(),
        /"event":"signal.duplicate"/,
        'the ones applied before the kill were recognised',
      );
    } finally {
      await second.stop();
    }
  });
});
