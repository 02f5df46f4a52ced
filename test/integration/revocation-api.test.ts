// The admin API's /revocations over real HTTP, with the embedded memory store: each kind of
// revocation goes in through the API (or the config file) and comes out as its refusal reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
import { readiness } from '../helpers/readiness.js';
import { admin, instant, listed, revoke, verdict } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const NOW = Math.floor(Date.now() / 1000);

let upstream: Upstream;
let ring: KeyRing;
let gw: TestGateway;

function consumerClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: ISS.consumer, sub: 'zoe', aud: AUDIENCE, scp: 'Mail.Read', ...extra };
}

before(async () => {
  upstream = await startUpstream();
  ring = await keyRing();
  const dir = tempDir();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
});
after(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('the admin API is guarded by admin.token', () => {
  const body = { kind: 'key', issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' };
  // The Authorization header sent, or none.
  const cases: [string, string | null][] = [
    ['no Authorization header', null],
    ['a wrong token', 'Bearer test-admin-token-0123456780'],
    ['the right token under another scheme', 'Basic test-admin-token-0123456789'],
    ['an empty bearer', 'Bearer '],
  ];
  for (const [name, authorization] of cases) {
    test(`${name}: 401 on POST, GET and DELETE, and nothing stored`, async () => {
      const headers: Record<string, string> = authorization === null ? {} : { authorization };
      for (const [method, path] of [
        ['POST', '/revocations'],
        ['GET', '/revocations'],
        ['DELETE', '/revocations/key-0000000000000000'],
      ] as const) {
        const res = await fetch(`${gw.adminUrl}${path}`, {
          method,
          headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
        assert.deepEqual(await res.json(), { error: 'unauthorized' });
      }
      assert.deepEqual(await listed(gw), []);
    });
  }

  test('health endpoints stay open without the token', async () => {
    assert.equal((await readiness(gw)).status, 200);
    assert.equal((await readiness(gw)).body.status, 'ready');
  });
});

describe('each kind of revocation through the API', () => {
  test('key: 201 with the stored record, 200 with the same record on repeat, listed, key_revoked, lifted', async () => {
    const token = await sign(ring.consumer, consumerClaims());
    assert.equal(await verdict(gw, token), 'ok'); // now in the verified-token cache

    const first = await revoke(gw, { kind: 'key', issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' });
    assert.equal(first.status, 201);
    const record = first.body;
    assert.match(String(record.id), /^key-[0-9a-f]{16}$/);
    assert.equal(record.kind, 'key');
    assert.equal(record.issuer, 'consumer');
    assert.equal(record.kid, 'msa-2016');
    assert.equal(record.reason, 'stolen');
    // Who is what the gateway established: the static token (no operators in this config).
    assert.equal(record.by, 'static-token');
    assert.equal(record.source, 'api');
    assert.ok(Math.abs(Date.parse(String(record.at)) - Date.now()) < 5000, String(record.at));

    // A cached token is refused too: the key state is checked on every request.
    assert.equal(await verdict(gw, token), '401 key_revoked');
    assert.equal(await verdict(gw, await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    assert.equal(await verdict(gw, await sign(ring.enterprise, enterpriseClaims())), 'ok');
    const event = gw.logs.events('key_revoked').at(-1)!;
    assert.equal(event.kid, 'msa-2016');
    assert.equal(event.issuerId, 'consumer');

    const again = await revoke(gw, {
      kind: 'key',
      issuer: 'consumer',
      kid: 'msa-2016',
      reason: 'other words',
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, record);

    // The answer also says how many minted tokens the revocation took down (none here).
    const { descendants, ...stored } = record;
    assert.equal(descendants, 0);
    assert.deepEqual(await listed(gw), [stored]);

    const lifted = await admin(gw.adminUrl, 'DELETE', `/revocations/${String(record.id)}`);
    assert.equal(lifted.status, 200);
    assert.deepEqual(lifted.body, { removed: stored });
    assert.deepEqual(await listed(gw), []);
    assert.equal(await verdict(gw, token), 'ok');

    // The audit trail keeps what the list no longer shows: who revoked, who lifted, when, why.
    const trail = (await admin(gw.adminUrl, 'GET', '/revocations/audit')).body.audit as Record<
      string,
      unknown
    >[];
    const mine = trail.filter(
      (e) => (e.record as { id?: string } | undefined)?.id === record.id || e.id === record.id,
    );
    assert.deepEqual(
      mine.map((e) => [e.op, e.by]),
      [
        ['add', 'static-token'],
        ['remove', 'static-token'],
      ],
    );
    assert.equal((mine[0]!.record as { reason?: string }).reason, 'stolen');
    assert.equal((await admin(gw.adminUrl, 'GET', '/revocations/audit', undefined, null)).status, 401);
  });

  test('token: refused as token_revoked by jti, other tokens of the subject unaffected', async () => {
    const exp = NOW + 1800;
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'api-jti-1', exp }));
    const sibling = await sign(ring.enterprise, enterpriseClaims({ jti: 'api-jti-2', exp }));
    assert.equal(await verdict(gw, token), 'ok');

    const res = await revoke(gw, {
      kind: 'token',
      issuer: 'enterprise',
      jti: 'api-jti-1',
      exp,
      reason: 'leaked',
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.jti, 'api-jti-1');
    assert.equal(res.body.exp, exp);
    // Kept until the token would have expired anyway, plus the largest clock skew (60 s).
    assert.equal(res.body.expiresAt, (exp + 60) * 1000);

    assert.equal(await verdict(gw, token), '401 token_revoked');
    assert.equal(await verdict(gw, sibling), 'ok');
    assert.equal(
      (await revoke(gw, { kind: 'token', issuer: 'enterprise', jti: 'api-jti-1', exp })).status,
      200,
    );

    // The same jti from another issuer is another token.
    const consumerSameJti = await sign(ring.consumer, consumerClaims({ jti: 'api-jti-1' }));
    assert.equal(await verdict(gw, consumerSameJti), 'ok');

    assert.equal((await admin(gw.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`)).status, 200);
    assert.equal(await verdict(gw, token), 'ok');
  });

  test('subject with before: subject_revoked only for tokens issued before the instant', async () => {
    const before = instant(NOW - 600);
    const old = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW - 1200 }));
    const fresh = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW }));
    const atTheInstant = await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW - 600 }));
    const otherOld = await sign(ring.enterprise, enterpriseClaims({ sub: 'carol', iat: NOW - 1200 }));

    const res = await revoke(gw, {
      kind: 'subject',
      issuer: 'enterprise',
      sub: 'bob',
      before,
      reason: 'phished',
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.before, before);
    assert.equal(await verdict(gw, old), '401 subject_revoked');
    assert.equal(await verdict(gw, fresh), 'ok');
    assert.equal(await verdict(gw, atTheInstant), 'ok');
    assert.equal(await verdict(gw, otherOld), 'ok');

    assert.equal((await admin(gw.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`)).status, 200);
    assert.equal(await verdict(gw, old), 'ok');
  });

  test('issuer with before: issuer_revoked for every token of that issuer issued earlier', async () => {
    const before = instant(NOW - 600);
    const old = await sign(ring.consumer, consumerClaims({ iat: NOW - 1200 }));
    const oldOtherSubject = await sign(ring.consumer, consumerClaims({ sub: 'yann', iat: NOW - 1200 }));
    const fresh = await sign(ring.consumer, consumerClaims({ iat: NOW }));
    const otherIssuerOld = await sign(ring.enterprise, enterpriseClaims({ iat: NOW - 1200 }));

    const res = await revoke(gw, { kind: 'issuer', issuer: 'consumer', before, reason: 'keys replaced' });
    assert.equal(res.status, 201);
    assert.equal(await verdict(gw, old), '401 issuer_revoked');
    assert.equal(await verdict(gw, oldOtherSubject), '401 issuer_revoked');
    assert.equal(await verdict(gw, fresh), 'ok');
    assert.equal(await verdict(gw, otherIssuerOld), 'ok');

    assert.equal((await admin(gw.adminUrl, 'DELETE', `/revocations/${String(res.body.id)}`)).status, 200);
    assert.equal(await verdict(gw, old), 'ok');
  });
});

describe('requests the API refuses', () => {
  test('a malformed body is 400 naming each problem, and nothing is stored', async () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: 'subject', issuer: 'enterprise', sub: 'bob', before: 'yesterday' }, /^before: /],
      [{ kind: 'key', issuer: 'consumer' }, /^kid: /],
      [{ kind: 'token', issuer: 'enterprise', jti: 'x', exp: 'soon' }, /^exp: /],
      [{ kind: 'key', issuer: 'consumer', kid: 'k', extra: 1 }, /extra/],
      [{ kind: 'everything', issuer: 'consumer' }, /^kind: /],
    ];
    for (const [body, problem] of cases) {
      const res = await revoke(gw, body as Record<string, unknown>);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error, 'invalid_request');
      assert.ok(
        (res.body.problems as string[]).some((p) => problem.test(p)),
        JSON.stringify(res.body),
      );
    }
    const unknownIssuer = await revoke(gw, { kind: 'key', issuer: 'nobody', kid: 'k' });
    assert.equal(unknownIssuer.status, 400);
    assert.deepEqual(unknownIssuer.body.problems, ['issuer: unknown issuer nobody']);
    assert.deepEqual(await listed(gw), []);
  });

  test('lifting an unknown id is 404 with a message', async () => {
    const res = await admin(gw.adminUrl, 'DELETE', '/revocations/key-0123456789abcdef');
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'refused');
    assert.match(String(res.body.message), /no revocation with id key-0123456789abcdef/);
  });
});

describe('revocations from the config file', () => {
  let configured: TestGateway;
  before(async () => {
    const dir = tempDir();
    configured = await startTestGateway(
      referenceConfig(dir, ring, {
        upstream: upstream.url,
        extra: {
          revocations: {
            keys: [{ issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' }],
            tokens: [{ issuer: 'enterprise', jti: 'cfg-jti', reason: 'leaked' }],
            subjects: [{ issuer: 'enterprise', sub: 'bob', before: instant(NOW - 600) }],
            issuers: [{ issuer: 'enterprise', before: instant(NOW - 3600), reason: 'keys replaced' }],
          },
        },
      }),
      { dir },
    );
  });
  after(async () => configured?.close());

  test('each kind is refused with its reason from the first request', async () => {
    const v = (t: string) => verdict(configured, t);
    assert.equal(await v(await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ jti: 'cfg-jti' }))),
      '401 token_revoked',
    );
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW - 1200 }))),
      '401 subject_revoked',
    );
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'dave', iat: NOW - 7200 }))),
      '401 issuer_revoked',
    );
    assert.equal(await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'bob', iat: NOW }))), 'ok');
  });

  test('they are listed as config records and cannot be lifted through the API', async () => {
    const records = await listed(configured);
    assert.deepEqual(records.map((r) => r.kind).sort(), ['issuer', 'key', 'subject', 'token']);
    for (const record of records) {
      assert.equal(record.source, 'config');
      assert.equal(record.by, 'config');
      const res = await admin(configured.adminUrl, 'DELETE', `/revocations/${String(record.id)}`);
      assert.equal(res.status, 409);
      assert.equal(res.body.error, 'refused');
      assert.match(String(res.body.message), /comes from the configuration file; remove it there/);
    }
    assert.equal((await listed(configured)).length, 4);
    assert.equal(await verdict(configured, await sign(ring.consumer, consumerClaims())), '401 key_revoked');
  });

  test('revoking through the API what the config already revokes answers 200 with the config record', async () => {
    const res = await revoke(configured, {
      kind: 'key',
      issuer: 'consumer',
      kid: 'msa-2016',
      reason: 'again',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.source, 'config');
    assert.equal(res.body.reason, 'stolen');
  });
});

test('memory store: a token revocation is forgotten once its token has expired anyway', async () => {
  const clock = new TestClock();
  const dir = tempDir();
  const own = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), {
    dir,
    clock: clock.now,
  });
  try {
    const exp = clock.seconds + 120;
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'short-lived', exp }), {
      now: clock.seconds,
    });
    const res = await revoke(own, { kind: 'token', issuer: 'enterprise', jti: 'short-lived', exp });
    assert.equal(res.status, 201);
    assert.equal(await verdict(own, token), '401 token_revoked');

    clock.advance((120 + 30) * 1000); // past exp, within the skew: kept
    await own.running.revocations.sync();
    assert.equal((await listed(own)).length, 1);

    clock.advance(31 * 1000); // past exp + 60 s skew
    await own.running.revocations.sync();
    assert.equal(own.running.revocations.mirror.get(String(res.body.id)), undefined);
    assert.deepEqual(await own.running.revocations.store.list(), []);
    assert.deepEqual(await listed(own), []);
  } finally {
    await own.close();
  }
});
