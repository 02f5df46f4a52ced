// DPoP (RFC 9449) at the gateway, end to end: a real DPoP client (proofs signed with ES256 and
// RS256 keys made at test time), two gateway instances on one real redis-server, a real upstream.
// Happy paths, every refusal with its exact challenge, a proof replayed to the other instance,
// nonces made by one instance accepted by the other, what the upstream and the log receive.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { TestClock } from '../helpers/clock.js';
import { type DpopKey, dpopKey, dpopProof, type ProofOptions } from '../helpers/dpop-client.js';
import {
  AUDIENCE,
  enterpriseClaims,
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { rawRequest } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// What clients address: the balancer in front of both instances, never either's own address.
const ORIGIN = 'https://mail.example.test';
const PREFIX = 'pg-dpop:';
const NONCE_KEY = 'nonce-key-for-the-tests-0123456789abcdef';

let redis: TestRedis;
let inspect: Redis;
let upstream: Upstream;
let ring: KeyRing;
let es: DpopKey;
let rsa: DpopKey;
let thief: DpopKey;
let a: TestGateway;
let b: TestGateway;
let n1: TestGateway;
let n2: TestGateway;

function routes(upstreamUrl: string): unknown[] {
  const base = { upstream: upstreamUrl, audience: AUDIENCE, issuers: ['enterprise'] };
  return [
    {
      name: 'dpop',
      prefix: '/api/dpop',
      senderConstraint: 'dpop',
      dpopAlgorithms: ['ES256', 'RS256'],
      ...base,
    },
    { name: 'any', prefix: '/api/any', senderConstraint: 'any', dpopAlgorithms: ['ES256', 'RS256'], ...base },
    { name: 'plain', prefix: '/api/plain', ...base },
  ];
}

function config(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return referenceConfig(dir, ring, {
    upstream: upstream.url,
    routes: routes(upstream.url),
    extra: {
      listen: { host: '127.0.0.1', port: 0, publicOrigin: ORIGIN },
      store: { kind: 'redis', url: redis.url, prefix: PREFIX },
      ...extra,
    },
  });
}

before(async () => {
  [redis, upstream, ring, es, rsa, thief] = await Promise.all([
    startRedis(),
    startUpstream(),
    keyRing(),
    dpopKey('ES256'),
    dpopKey('RS256'),
    dpopKey('ES256'),
  ]);
  inspect = new Redis(redis.url);
  const dir = tempDir();
  a = await startTestGateway(config(dir), { dir });
  b = await startTestGateway(config(dir), { dir });
  const nonceDir = tempDir();
  const nonced = config(nonceDir, {
    dpop: { nonce: 'required', nonceKeys: [NONCE_KEY] },
    store: { kind: 'redis', url: redis.url, prefix: 'pg-dpop-n:' },
  });
  n1 = await startTestGateway(nonced, { dir: nonceDir });
  n2 = await startTestGateway(nonced, { dir: nonceDir });
});

after(async () => {
  await Promise.all([a?.close(), b?.close(), n1?.close(), n2?.close()]);
  inspect?.disconnect();
  await upstream?.close();
  await redis?.close();
});

/** An enterprise token bound to `key` (cnf.jkt), or unbound. */
function tokenFor(key: DpopKey | undefined, extra: Record<string, unknown> = {}): Promise<string> {
  return sign(
    ring.enterprise,
    enterpriseClaims({ ...(key === undefined ? {} : { cnf: { jkt: key.jkt } }), ...extra }),
  );
}

interface Call {
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly body: Record<string, unknown>;
}

/** One request with exactly these header lines, on a fresh connection (repeated headers stay repeated). */
async function call(gateway: TestGateway, path: string, lines: string[], method = 'GET'): Promise<Call> {
  const r = await rawRequest(gateway.url, path, lines, method);
  return { status: r.status, headers: r.headers, body: r.body };
}

async function dpopCall(
  gateway: TestGateway,
  path: string,
  key: DpopKey,
  token: string,
  o: Partial<ProofOptions> = {},
  method = 'GET',
): Promise<Call & { proof: string }> {
  const proof = await dpopProof(key, { method, url: `${ORIGIN}${path}`, token, ...o });
  return {
    ...(await call(gateway, path, [`Authorization: DPoP ${token}`, `DPoP: ${proof}`], method)),
    proof,
  };
}

const challenge = (c: Call) => c.headers['www-authenticate']?.join(' | ');
const ALGS = 'algs="ES256 RS256"';

describe('accepted', () => {
  test('ES256 and RS256 proofs by the bound key: 200, and the upstream gets x-auth-cnf, no DPoP header', async () => {
    for (const key of [es, rsa]) {
      const token = await tokenFor(key);
      const seen = upstream.received.length;
      const r = await dpopCall(a, '/api/dpop/messages', key, token);
      assert.equal(r.status, 200, `${key.alg}: ${JSON.stringify(r.body)}`);
      const got = upstream.received.at(-1)!;
      assert.equal(upstream.received.length, seen + 1);
      assert.equal(got.headers.dpop, undefined, 'the proof stays at the gateway');
      assert.equal(got.headers['x-auth-cnf'], `jkt:${key.jkt}`);
      assert.equal(got.headers['x-auth-subject'], 'alice');
    }
  });

  test('a DPoP-bound token on a route that asks for no binding: held to its binding all the same', async () => {
    const token = await tokenFor(es);
    assert.equal((await dpopCall(b, '/api/plain/x', es, token)).status, 200);
    const asBearer = await call(b, '/api/plain/x', [`Authorization: Bearer ${token}`]);
    assert.equal(asBearer.status, 401);
    assert.equal(asBearer.body.reason, 'dpop_bound_as_bearer');
  });

  test('a client DPoP or certificate header never reaches the upstream, on any route', async () => {
    const token = await tokenFor(undefined);
    const r = await call(a, '/api/plain/x', [
      `Authorization: Bearer ${token}`,
      'DPoP: not-a-proof',
      'dpop: twice',
      'X_Forwarded_Client_Cert: Hash=00',
    ]);
    assert.equal(r.status, 200);
    const got = upstream.received.at(-1)!;
    for (const name of Object.keys(got.headers)) assert.doesNotMatch(name, /dpop|client.cert/i, name);
    assert.equal(got.headers['x-auth-cnf'], undefined);
  });
});

describe('refusals and their challenges', () => {
  test('no credentials: the route offers what it takes (Bearer, DPoP or both), without an error', async () => {
    assert.equal(challenge(await call(a, '/api/plain/x', [])), 'Bearer realm="provgate"');
    assert.equal(challenge(await call(a, '/api/dpop/x', [])), `DPoP ${ALGS}`);
    assert.equal(challenge(await call(a, '/api/any/x', [])), `Bearer realm="provgate", DPoP ${ALGS}`);
  });

  test('Bearer and DPoP at once: 400 invalid_request on both challenges (RFC 9449 §7.2)', async () => {
    const token = await tokenFor(es);
    const r = await call(a, '/api/any/x', [`Authorization: Bearer ${token}`, `Authorization: DPoP ${token}`]);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'invalid_request', reason: 'ambiguous_credentials' });
    assert.equal(
      challenge(r),
      `Bearer error="invalid_request", error_description="ambiguous_credentials", DPoP error="invalid_request", error_description="ambiguous_credentials", ${ALGS}`,
    );
  });

  test('DPoP credentials without a proof, or with two: invalid_dpop_proof', async () => {
    const token = await tokenFor(es);
    const none = await call(a, '/api/dpop/x', [`Authorization: DPoP ${token}`]);
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, { error: 'invalid_dpop_proof', reason: 'dpop_proof_missing' });
    assert.equal(
      challenge(none),
      `DPoP error="invalid_dpop_proof", error_description="dpop_proof_missing", ${ALGS}`,
    );
    const proof = await dpopProof(es, { method: 'GET', url: `${ORIGIN}/api/dpop/x`, token });
    const two = await call(a, '/api/dpop/x', [
      `Authorization: DPoP ${token}`,
      `DPoP: ${proof}`,
      `DPoP: ${proof}`,
    ]);
    assert.equal(two.body.reason, 'dpop_proof_invalid');
    assert.equal(
      challenge(two),
      `DPoP error="invalid_dpop_proof", error_description="dpop_proof_invalid", ${ALGS}`,
    );
  });

  test('a bad proof (htu of the instance instead of the public origin, htm, iat, ath): dpop_proof_invalid', async () => {
    const token = await tokenFor(es);
    for (const o of [
      { url: `${a.url}/api/dpop/x` },
      { method: 'POST' },
      { iat: Math.floor(Date.now() / 1000) - 120 },
      { token: `${token}x` },
    ] as Partial<ProofOptions>[]) {
      const r = await dpopCall(a, '/api/dpop/x', es, token, o);
      assert.equal(r.status, 401, JSON.stringify(o));
      assert.equal(r.body.reason, 'dpop_proof_invalid', JSON.stringify(o));
      assert.equal(
        challenge(r),
        `DPoP error="invalid_dpop_proof", error_description="dpop_proof_invalid", ${ALGS}`,
      );
    }
  });

  test("a stolen token with the thief's own key: dpop_key_mismatch, a critical event naming both keys", async () => {
    const token = await tokenFor(es);
    const r = await dpopCall(a, '/api/dpop/x', thief, token);
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { error: 'invalid_token', reason: 'dpop_key_mismatch' });
    assert.equal(challenge(r), `DPoP error="invalid_token", error_description="dpop_key_mismatch", ${ALGS}`);
    const event = a.logs.events('dpop_key_mismatch').at(-1)!;
    assert.equal(event.severity, 'critical');
    assert.equal(event.binding, `jkt:${es.jkt}`);
    assert.equal(event.presented, `jkt:${thief.jkt}`);
    assert.equal(event.htu, `${ORIGIN}/api/dpop/x`);
    assert.match(String(event.msg), /^STOLEN TOKEN/);
  });

  test('a DPoP-bound token as Bearer, an unbound token on a dpop route or with DPoP credentials', async () => {
    const bound = await tokenFor(es);
    const asBearer = await call(a, '/api/dpop/x', [`Authorization: Bearer ${bound}`]);
    assert.deepEqual(asBearer.body, { error: 'invalid_token', reason: 'dpop_bound_as_bearer' });
    assert.equal(
      challenge(asBearer),
      `DPoP error="invalid_token", error_description="dpop_bound_as_bearer", ${ALGS}`,
    );
    assert.equal(a.logs.events('dpop_bound_as_bearer').at(-1)!.severity, 'high');
    const unbound = await tokenFor(undefined);
    const onDpopRoute = await call(a, '/api/dpop/x', [`Authorization: Bearer ${unbound}`]);
    assert.deepEqual(onDpopRoute.body, { error: 'invalid_token', reason: 'token_not_bound' });
    assert.equal(
      challenge(onDpopRoute),
      `DPoP error="invalid_token", error_description="token_not_bound", ${ALGS}`,
    );
    const onAny = await call(a, '/api/any/x', [`Authorization: Bearer ${unbound}`]);
    assert.equal(
      challenge(onAny),
      `Bearer error="invalid_token", error_description="token_not_bound", DPoP error="invalid_token", error_description="token_not_bound", ${ALGS}`,
    );
    const asDpop = await dpopCall(a, '/api/dpop/x', es, unbound);
    assert.equal(asDpop.body.reason, 'token_not_bound');
  });

  test('a token refusal under DPoP credentials carries its error on the DPoP challenge', async () => {
    const expired = await sign(ring.enterprise, enterpriseClaims({ cnf: { jkt: es.jkt } }), {
      ttlSeconds: -300,
    });
    const r = await dpopCall(a, '/api/dpop/x', es, expired);
    assert.equal(r.body.reason, 'token_expired');
    assert.equal(challenge(r), `DPoP error="invalid_token", error_description="token_expired", ${ALGS}`);
  });
});

describe('replay, across instances', () => {
  test('a proof is accepted once: replayed to the same instance or to the other one, refused', async () => {
    const token = await tokenFor(es);
    const first = await dpopCall(a, '/api/dpop/inbox', es, token);
    assert.equal(first.status, 200);
    const lines = [`Authorization: DPoP ${token}`, `DPoP: ${first.proof}`];
    const again = await call(a, '/api/dpop/inbox', lines);
    assert.deepEqual(again.body, { error: 'invalid_dpop_proof', reason: 'dpop_proof_replayed' });
    assert.equal(
      challenge(again),
      `DPoP error="invalid_dpop_proof", error_description="dpop_proof_replayed", ${ALGS}`,
    );
    const second = await dpopCall(b, '/api/dpop/inbox', es, token);
    assert.equal(second.status, 200, 'a fresh proof is fine on the other instance');
    const elsewhere = await call(a, '/api/dpop/inbox', [
      `Authorization: DPoP ${token}`,
      `DPoP: ${second.proof}`,
    ]);
    assert.equal(elsewhere.body.reason, 'dpop_proof_replayed', 'a proof B accepted, replayed to A');
    const event = a.logs.events('dpop_proof_replayed').at(-1)!;
    assert.equal(event.note, 'proof jti seen on another instance');
    assert.equal(event.presented, `jkt:${es.jkt}`);
  });

  test('the proof ids are SET NX PX under one {dpop} hash tag, with a TTL past the acceptance window', async () => {
    const keys = await inspect.keys(`${PREFIX}{dpop}:*`);
    assert.ok(keys.length >= 3, String(keys.length));
    const ttl = await inspect.pttl(keys[0]!);
    assert.ok(ttl > 50_000 && ttl <= 80_000, `ttl ${ttl}`);
  });

  test('a bad proof costs no Redis command: only a proof that passed every other check is claimed', async () => {
    const sets = async () =>
      Number(/cmdstat_set:calls=(\d+)/.exec(await inspect.info('commandstats'))?.[1] ?? 0);
    const token = await tokenFor(es);
    const before = await sets();
    await dpopCall(a, '/api/dpop/x', es, token, { method: 'PUT' });
    await dpopCall(a, '/api/dpop/x', thief, token);
    await call(a, '/api/dpop/x', [`Authorization: Bearer ${token}`]);
    assert.equal(await sets(), before);
    await dpopCall(a, '/api/dpop/x', es, token);
    assert.equal(await sets(), before + 1, 'one atomic command per accepted DPoP request');
  });
});

describe('nonces, across instances', () => {
  test('without a nonce: 401 use_dpop_nonce with DPoP-Nonce; a nonce from one instance works on the other', async () => {
    const token = await tokenFor(rsa);
    const first = await dpopCall(n1, '/api/dpop/x', rsa, token);
    assert.equal(first.status, 401);
    assert.deepEqual(first.body, { error: 'use_dpop_nonce', reason: 'dpop_nonce_required' });
    assert.equal(
      challenge(first),
      `DPoP error="use_dpop_nonce", error_description="dpop_nonce_required", ${ALGS}`,
    );
    assert.equal(first.headers['cache-control']?.[0], 'no-store');
    const nonce = first.headers['dpop-nonce']?.[0];
    assert.match(String(nonce), /^[A-Za-z0-9_-]{32}$/);
    const onOther = await dpopCall(n2, '/api/dpop/x', rsa, token, { nonce });
    assert.equal(onOther.status, 200, JSON.stringify(onOther.body));
    const forged = await dpopCall(n2, '/api/dpop/x', rsa, token, { nonce: 'A'.repeat(32) });
    assert.equal(forged.body.reason, 'dpop_nonce_required');
    assert.equal(forged.headers['dpop-nonce']?.[0], nonce, 'the same nonce on every instance in one slot');
  });
});

describe('nonces over time', () => {
  test('a nonce of the slot that just ended still passes, and the new one rides on the 200; two slots on, it is refused', async () => {
    const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000 + 1000);
    const dir = tempDir();
    const gateway = await startTestGateway(
      config(dir, { dpop: { nonce: 'required', nonceKeys: [NONCE_KEY] }, store: { kind: 'memory' } }),
      { dir, clock: clock.now },
    );
    try {
      const token = await tokenFor(es);
      const at = () => ({ iat: clock.seconds });
      const first = await dpopCall(gateway, '/api/dpop/x', es, token, at());
      const nonce = first.headers['dpop-nonce']?.[0];
      assert.equal(first.body.reason, 'dpop_nonce_required');
      const same = await dpopCall(gateway, '/api/dpop/x', es, token, { ...at(), nonce });
      assert.equal(same.status, 200);
      assert.equal(same.headers['dpop-nonce'], undefined, 'nothing new within the slot');
      clock.advanceSeconds(60);
      const turned = await dpopCall(gateway, '/api/dpop/x', es, token, { ...at(), nonce });
      assert.equal(turned.status, 200, JSON.stringify(turned.body));
      const next = turned.headers['dpop-nonce']?.[0];
      assert.ok(next !== undefined && next !== nonce, 'a fresh nonce rides on the success');
      assert.equal(
        upstream.received.at(-1)!.headers['dpop-nonce'],
        undefined,
        'the upstream never sees nonces',
      );
      clock.advanceSeconds(60);
      const late = await dpopCall(gateway, '/api/dpop/x', es, token, { ...at(), nonce });
      assert.equal(late.body.reason, 'dpop_nonce_required');
      assert.notEqual(late.headers['dpop-nonce']?.[0], nonce);
      assert.equal((await dpopCall(gateway, '/api/dpop/x', es, token, { ...at(), nonce: next })).status, 200);
    } finally {
      await gateway.close();
    }
  });
});

describe('what is recorded', () => {
  test('/metrics counts proofs by outcome', async () => {
    const text = await (await fetch(`${a.adminUrl}/metrics`)).text();
    for (const outcome of ['accepted', 'invalid', 'replayed', 'key_mismatch', 'missing', 'bound_as_bearer']) {
      const m = new RegExp(`provgate_dpop_proofs_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text);
      assert.ok(m !== null && Number(m[1]) > 0, outcome);
    }
  });

  test('no proof and no token in the log: events carry thumbprints and the normalised htu', async () => {
    const token = await tokenFor(es);
    const r = await dpopCall(a, '/api/dpop/logged', es, token, { method: 'PATCH' });
    assert.equal(r.body.reason, 'dpop_proof_invalid');
    for (const gateway of [a, b]) {
      assert.ok(!gateway.logs.text.includes(r.proof.split('.')[2]!), 'a proof signature in the log');
      assert.ok(!gateway.logs.text.includes(token.split('.')[2]!), 'a token signature in the log');
    }
    const event = a.logs.events('dpop_proof_invalid').at(-1)!;
    assert.equal(event.htu, `${ORIGIN}/api/dpop/logged`);
    assert.equal(event.binding, `jkt:${es.jkt}`);
  });
});
