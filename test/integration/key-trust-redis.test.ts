// Key trust across two instances on one real redis-server, against a rotating JWKS stub: a key
// the identity provider starts serving is quarantined on both, trusted by one POST on one, then
// accepted by both; a re-keyed kid is quarantined again; a flood of kids is bounded.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { JWK } from 'jose';
import { type DevKeyPair, generateDevKey, jwksOf } from '../../src/demo/dev-keys.js';
import {
  enterpriseClaims,
  ISS,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { admin, redisStore, verdict } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PREFIX = 'pg-kt:';
let redis: TestRedis;
let upstream: Upstream;
let idp: IdpStub;
let k1: DevKeyPair;
let k2: DevKeyPair;
let a: TestGateway;
let b: TestGateway;
let dir: string;
let config: Record<string, unknown>;

const published = (...pairs: DevKeyPair[]): JWK[] => jwksOf(pairs).keys;
const token = (key: DevKeyPair) => sign(key, enterpriseClaims());

before(async () => {
  [redis, upstream, k1, k2] = await Promise.all([
    startRedis(),
    startUpstream(),
    generateDevKey('ES256', 'k1'),
    generateDevKey('ES256', 'k2'),
  ]);
  idp = await startIdpStub(ISS.enterprise, published(k1));
  dir = tempDir();
  config = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: {
      enterprise: {
        keys: { url: idp.jwksUrl, newKeys: 'quarantine', cooldownSeconds: 1, maxQuarantined: 100 },
      },
    },
    // A long resync: whatever B learns within a test, it learns by pub/sub.
    extra: { store: redisStore(redis.url, PREFIX, { resyncSeconds: 60 }) },
  });
  a = await startTestGateway(config, { dir });
  b = await startTestGateway(config, { dir });
});
after(async () => {
  await a?.close();
  await b?.close();
  await idp?.close();
  await upstream?.close();
  await redis?.close();
});

test('the keys of the first load are trusted', async () => {
  const t = await token(k1);
  assert.equal(await verdict(a, t), 'ok');
  assert.equal(await verdict(b, t), 'ok');
  const first = a.logs.lines.filter((l) => l.event === 'key.trusted' && l.by === 'first-load');
  assert.deepEqual(
    first.map((l) => l.kid),
    ['k1'],
  );
});

test('a new key is quarantined on both instances, trusted by one POST, then accepted on both within 1 s', async (ctx) => {
  idp.keys = published(k1, k2);
  const t = await token(k2);
  // An unknown kid makes each instance refetch the set once: the new key is found and quarantined.
  assert.equal(await verdict(a, t), '401 key_quarantined');
  assert.equal(await verdict(b, t), '401 key_quarantined');
  for (const gw of [a, b]) {
    const refused = gw.logs.events('key_quarantined').at(-1)!;
    assert.equal(refused.severity, 'critical', 'the signature verifies: someone holds the key');
    assert.equal(refused.signatureValid, true);
    assert.equal(gw.logs.events('unknown_key').length, 0);
  }
  const appeared = a.logs.lines.filter((l) => l.event === 'key.appeared');
  assert.equal(appeared.length, 1);
  assert.equal(appeared[0]!.kid, 'k2');
  assert.match(String(appeared[0]!.thumbprint), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(appeared[0]!.alg, 'ES256');

  const listedA = await admin(a.adminUrl, 'GET', '/keys');
  const enterprise = (listedA.body.issuers as { id: string; keys: Record<string, unknown>[] }[]).find(
    (i) => i.id === 'enterprise',
  )!;
  assert.deepEqual(
    enterprise.keys.map((k) => [k.kid, k.trust]),
    [
      ['k1', 'trusted'],
      ['k2', 'quarantined'],
    ],
  );

  const trusted = await admin(a.adminUrl, 'POST', '/keys/enterprise/k2/trust', {
    note: 'scheduled rotation',
  });
  assert.equal(trusted.status, 201);
  assert.equal((trusted.body.record as Record<string, unknown>).state, 'trusted');
  assert.equal((trusted.body.record as Record<string, unknown>).by, 'static-token');
  const started = performance.now();
  assert.equal(await verdict(a, t), 'ok', 'the answered POST holds on the instance that took it');
  await waitFor(async () => (await verdict(b, t)) === 'ok', { timeoutMs: 1000, message: 'B to accept k2' });
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `B accepted within ${ms.toFixed(0)} ms`);
  ctx.diagnostic(`the other instance accepted the trusted key ${ms.toFixed(1)} ms after the POST answered`);
  const decided = a.logs.lines.find((l) => l.event === 'key.trusted' && l.by === 'static-token');
  assert.equal(decided?.kid, 'k2');
  assert.equal(decided?.note, 'scheduled rotation');
});

test('the first load, the quarantine and the trust are entries of the shared Redis event stream', async () => {
  await a.running.observability.stream!.flush();
  await b.running.observability.stream!.flush();
  const client = new Redis(redis.url);
  try {
    const entries = (await client.xrange(`${PREFIX}{events}:stream`, '-', '+')) as [string, string[]][];
    const keyEntries = entries
      .map(([, fields]): Record<string, string> => {
        const entry: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
        return entry;
      })
      .filter((f) => String(f.event).startsWith('key.'))
      .map((f) => ({
        event: f.event,
        severity: f.severity,
        kind: f.kind,
        data: JSON.parse(String(f.data)) as Record<string, unknown>,
      }));
    const seen = (event: string, kid: string) =>
      keyEntries.filter((e) => e.event === event && e.data.kid === kid);
    // Said by the instance that saw it first (the other finds the record stored); the trust, by
    // the one that took the POST.
    assert.ok(seen('key.trusted', 'k1').length >= 1, 'the first load');
    assert.ok(seen('key.appeared', 'k2').length >= 1);
    const trusted = seen('key.trusted', 'k2');
    assert.equal(trusted.length, 1);
    assert.equal(trusted[0]!.severity, 'low');
    assert.equal(trusted[0]!.kind, 'key.trusted');
    assert.equal(trusted[0]!.data.by, 'static-token');
    assert.equal(seen('key.appeared', 'k2')[0]!.severity, 'high');
  } finally {
    client.disconnect();
  }
});

test('a different key published under a trusted kid is quarantined again', async () => {
  const rekeyed = await generateDevKey('ES256', 'k2');
  idp.keys = published(k1, rekeyed);
  // What a scheduled refresh does, now.
  await a.running.compiled.keySets.refresh('enterprise');
  await b.running.compiled.keySets.refresh('enterprise');
  const t = await token(rekeyed);
  assert.equal(await verdict(a, t), '401 key_quarantined');
  assert.equal(await verdict(b, t), '401 key_quarantined');
  // The old k2's tokens name the new, quarantined material now: refused at the key step, and the
  // forgery check tells it is not the new key's signature.
  assert.equal(await verdict(a, await token(k2)), '401 key_quarantined');
  assert.equal(a.logs.events('key_quarantined').at(-1)!.signatureValid, false);
  const appeared = a.logs.lines.filter((l) => l.event === 'key.appeared' && l.kid === 'k2');
  assert.equal(appeared.length, 2);
  assert.notEqual(appeared[0]!.thumbprint, appeared[1]!.thumbprint);
  // Trusting "k2" while naming the old material is a conflict, not a trust of the new key.
  const stale = await admin(a.adminUrl, 'POST', '/keys/enterprise/k2/trust', {
    thumbprint: appeared[0]!.thumbprint,
  });
  assert.equal(stale.status, 409);
  assert.equal(await verdict(b, t), '401 key_quarantined');
});

test('distrust refuses a trusted key everywhere, its cached tokens included', async () => {
  const t = await token(k1);
  assert.equal(await verdict(b, t), 'ok');
  assert.equal(await verdict(b, t), 'ok');
  const res = await admin(b.adminUrl, 'POST', '/keys/enterprise/k1/distrust', { note: 'leaked' });
  assert.equal(res.status, 201);
  assert.equal(await verdict(b, t), '401 key_quarantined');
  await waitFor(async () => (await verdict(a, t)) === '401 key_quarantined', { timeoutMs: 1000 });
  const back = await admin(a.adminUrl, 'POST', '/keys/enterprise/k1/trust');
  assert.equal(back.status, 201);
  await waitFor(async () => (await verdict(b, t)) === 'ok', { timeoutMs: 1000 });
});

test('decisions live in the store: the audit trail says who; unknown keys and bad bodies are 4xx', async () => {
  const audit = await admin(b.adminUrl, 'GET', '/keys/audit');
  const puts = (
    audit.body.audit as { op: string; by: string; record?: { kid: string; state: string } }[]
  ).map((e) => [e.op, e.by, e.record?.kid, e.record?.state]);
  assert.deepEqual(puts.slice(0, 2), [
    ['put', 'first-load', 'k1', 'trusted'],
    ['put', 'refresh', 'k2', 'quarantined'],
  ]);
  assert.ok(
    puts.some(([, by, kid, state]) => by === 'static-token' && kid === 'k1' && state === 'distrusted'),
  );
  const missing = await admin(a.adminUrl, 'POST', '/keys/enterprise/nope/trust');
  assert.equal(missing.status, 404);
  const unknownIssuer = await admin(a.adminUrl, 'POST', '/keys/nobody/k1/trust');
  assert.equal(unknownIssuer.status, 404);
  const bad = await admin(a.adminUrl, 'POST', '/keys/enterprise/k1/trust', { thumbprint: 'short' });
  assert.equal(bad.status, 400);
});

test('decisions survive a restart, and a restart is no first load: a quarantined key stays quarantined', async () => {
  const k3 = await generateDevKey('ES256', 'k3');
  idp.keys = [...idp.keys, ...published(k3)];
  const t3 = await token(k3);
  // unknown_key until the unknown-kid refetch cooldown (1 s) allows A to look at the set again.
  await waitFor(async () => (await verdict(a, t3)) === '401 key_quarantined', { timeoutMs: 3000 });
  await a.close();
  a = await startTestGateway(config, { dir });
  assert.equal(await verdict(a, t3), '401 key_quarantined');
  assert.equal(await verdict(a, await token(k1)), 'ok');
  assert.equal(a.logs.lines.filter((l) => l.event === 'key.trusted' && l.by === 'first-load').length, 0);
});

test('with the store away a decision is 503 and nothing changes', async () => {
  await redis.stop();
  try {
    const res = await admin(a.adminUrl, 'POST', '/keys/enterprise/k2/trust');
    assert.equal(res.status, 503);
    assert.equal(res.body.error, 'store_unavailable');
  } finally {
    await redis.restart();
  }
  assert.equal(await verdict(a, await token(k1)), 'ok', 'the last known decisions keep serving');
});
