// Quarantine on one instance against rotating JWKS stubs: a soak time that passes trusts a new
// key by itself; a flood of new kids is bounded by keys.maxQuarantined with one summary event;
// a pinned issuer trusts only its pins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type DevKeyPair, generateDevKey, jwksOf } from '../../src/demo/dev-keys.js';
import {
  AUDIENCE,
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
import { operatorToken, opsKey, withOperators } from '../helpers/operators.js';
import { waitFor } from '../helpers/poll.js';
import { admin, provgate, verdict, writeConfigFile } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const FLOOD = 150;
const MAX_QUARANTINED = 100;
let upstream: Upstream;
let soaking: IdpStub;
let flooding: IdpStub;
let k1: DevKeyPair;
let k2: DevKeyPair;
let c1: DevKeyPair;
let gw: TestGateway;
let dir: string;
let config: Record<string, unknown>;

const published = (...pairs: DevKeyPair[]): JWK[] => jwksOf(pairs).keys;
const consumerToken = (key: DevKeyPair) =>
  sign(key, { iss: ISS.consumer, sub: 'zoe', aud: AUDIENCE, scp: 'Mail.Read' });

before(async () => {
  [upstream, k1, k2, c1] = await Promise.all([
    startUpstream(),
    generateDevKey('ES256', 'k1'),
    generateDevKey('ES256', 'k2'),
    generateDevKey('ES256', 'c1'),
  ]);
  soaking = await startIdpStub(ISS.enterprise, published(k1));
  flooding = await startIdpStub(ISS.consumer, published(c1));
  dir = tempDir();
  config = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: {
      enterprise: {
        keys: { url: soaking.jwksUrl, newKeys: 'quarantine', quarantineSeconds: 1, cooldownSeconds: 1 },
      },
      consumer: {
        keys: {
          url: flooding.jwksUrl,
          newKeys: 'quarantine',
          maxQuarantined: MAX_QUARANTINED,
          cooldownSeconds: 1,
        },
        algorithms: ['ES256'],
      },
    },
  });
  gw = await startTestGateway(config, { dir });
});
after(async () => {
  await gw?.close();
  await soaking?.close();
  await flooding?.close();
  await upstream?.close();
});

test('a quarantined key is trusted by itself once its soak time passed, with an event', async () => {
  soaking.keys = published(k1, k2);
  const t = await sign(k2, enterpriseClaims());
  assert.equal(await verdict(gw, t), '401 key_quarantined');
  const appearedAt = performance.now();
  const waited = await waitFor(async () => (await verdict(gw, t)) === 'ok', {
    timeoutMs: 3000,
    intervalMs: 50,
    message: 'the soak time to pass',
  });
  assert.ok(
    performance.now() - appearedAt >= 900,
    `accepted after ${waited.toFixed(0)} ms, not before the soak`,
  );
  await waitFor(() =>
    gw.logs.lines.some((l) => l.event === 'key.trusted' && l.by === 'soak' && l.kid === 'k2'),
  );
});

test('a key that appears and is then trusted is two security events on /events: key.appeared, key.trusted with by', async () => {
  const dir = tempDir();
  const k3 = await generateDevKey('ES256', 'k3');
  const stub = await startIdpStub(ISS.enterprise, published(k1));
  const config = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { url: stub.jwksUrl, newKeys: 'quarantine', cooldownSeconds: 1 } } },
  });
  const watched = await startTestGateway(config, { dir });
  try {
    stub.keys = published(k1, k3);
    const t = await sign(k3, enterpriseClaims());
    assert.equal(await verdict(watched, t), '401 key_quarantined');
    const decided = await admin(watched.adminUrl, 'POST', '/keys/enterprise/k3/trust', { note: 'ticket 7' });
    assert.equal(decided.status, 201, JSON.stringify(decided.body));
    assert.equal(await verdict(watched, t), 'ok');
    const listed = await admin(watched.adminUrl, 'GET', '/events');
    const keyEvents = (listed.body.events as { seq: number; event: Record<string, unknown> }[])
      .map((e) => e.event)
      .filter((e) => String(e.event).startsWith('key.') && e.kid === 'k3');
    assert.deepEqual(
      keyEvents.map((e) => [e.event, e.severity]),
      [
        ['key.appeared', 'high'],
        ['key.trusted', 'low'],
      ],
    );
    assert.equal(keyEvents[0]!.issuerId, 'enterprise');
    assert.equal(keyEvents[0]!.state, 'quarantined');
    assert.equal(keyEvents[1]!.by, 'static-token');
    assert.equal(keyEvents[1]!.note, 'ticket 7');
    assert.equal(keyEvents[1]!.thumbprint, keyEvents[0]!.thumbprint);
    // Still one log line each, at the level of its severity.
    const lines = watched.logs.lines.filter((l) => String(l.event).startsWith('key.') && l.kid === 'k3');
    assert.deepEqual(
      lines.map((l) => [l.event, l.level]),
      [
        ['key.appeared', 40],
        ['key.trusted', 30],
      ],
    );
  } finally {
    await watched.close();
    await stub.close();
  }
});

test('a flood of new kids: at most maxQuarantined quarantined, the rest unknown_key, one summary event', async () => {
  const flood = await Promise.all(
    Array.from({ length: FLOOD }, (_, i) => generateDevKey('ES256', `flood-${String(i).padStart(3, '0')}`)),
  );
  flooding.keys = published(c1, ...flood);
  assert.equal(await verdict(gw, await consumerToken(flood[0]!)), '401 key_quarantined');
  const appeared = gw.logs.lines.filter((l) => l.event === 'key.appeared' && l.issuerId === 'consumer');
  assert.equal(appeared.length, MAX_QUARANTINED, 'one event per quarantined key');
  const summaries = gw.logs.lines.filter((l) => l.event === 'keys.quarantine_full');
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0]!.refused, FLOOD - MAX_QUARANTINED);
  // Past the budget a key is not in the set at all: unknown_key, never accepted.
  assert.equal(await verdict(gw, await consumerToken(flood[FLOOD - 1]!)), '401 unknown_key');
  assert.equal(await verdict(gw, await consumerToken(c1)), 'ok', 'the trusted key keeps working');
  // Refreshed again (the flood still served): no second summary, no new records.
  await gw.running.compiled.keySets.refresh('consumer');
  assert.equal(gw.logs.lines.filter((l) => l.event === 'keys.quarantine_full').length, 1);
  const listed = await admin(gw.adminUrl, 'GET', '/keys');
  const records = (listed.body.decisions as { issuer: string; state: string }[]).filter(
    (r) => r.issuer === 'consumer',
  );
  assert.equal(records.filter((r) => r.state === 'quarantined').length, MAX_QUARANTINED);
  const consumer = (listed.body.issuers as { id: string; keys: unknown[] }[]).find(
    (i) => i.id === 'consumer',
  )!;
  assert.equal(consumer.keys.length, 1 + MAX_QUARANTINED, 'the set holds what the budget allows');
});

test('the flood withdrawn frees the budget: its quarantine records are forgotten', async () => {
  flooding.keys = published(c1);
  await gw.running.compiled.keySets.refresh('consumer');
  const listed = await admin(gw.adminUrl, 'GET', '/keys');
  const records = (listed.body.decisions as { issuer: string; state: string }[]).filter(
    (r) => r.issuer === 'consumer',
  );
  assert.deepEqual(
    records.map((r) => r.state),
    ['trusted'],
  );
});

test('keys.pin: only the pinned thumbprints are ever trusted, whatever the set serves', async () => {
  const dir = tempDir();
  const pinned = await calculateJwkThumbprint(k1.publicJwk as JWK, 'sha256');
  const stub = await startIdpStub(ISS.enterprise, published(k1, k2));
  const config = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { url: stub.jwksUrl, pin: [pinned] } } },
  });
  const pinnedGw = await startTestGateway(config, { dir });
  try {
    assert.equal(await verdict(pinnedGw, await sign(k1, enterpriseClaims())), 'ok');
    assert.equal(await verdict(pinnedGw, await sign(k2, enterpriseClaims())), '401 key_not_pinned');
    const refused = pinnedGw.logs.events('key_not_pinned').at(-1)!;
    assert.equal(refused.severity, 'critical');
    // An operator's trust does not beat a pin.
    const res = await admin(pinnedGw.adminUrl, 'POST', '/keys/enterprise/k2/trust');
    assert.equal(res.status, 201);
    assert.match(String(res.body.warning), /keys\.pin/);
    assert.equal(await verdict(pinnedGw, await sign(k2, enterpriseClaims())), '401 key_not_pinned');
  } finally {
    await pinnedGw.close();
    await stub.close();
  }
});

test('the CLI: keys list, keys trust through the admin API, keys thumbprints to pin', async () => {
  const c2 = await generateDevKey('ES256', 'c2');
  flooding.keys = published(c1, c2);
  const token = await consumerToken(c2);
  await waitFor(async () => (await verdict(gw, token)) === '401 key_quarantined', { timeoutMs: 3000 });
  const port = Number(new URL(gw.adminUrl).port);
  const file = writeConfigFile(dir, 'cli.yaml', {
    ...config,
    admin: { ...(config.admin as object), port },
  });
  const listed = await provgate('keys list', {}, file);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^consumer {2}newKeys=quarantine/m);
  assert.match(listed.stdout, /^ {2}c2 {2}[A-Za-z0-9_-]{43} {2}ES256 {2}quarantined/m);
  const trusted = await provgate(
    'keys trust',
    { issuer: 'consumer', kid: 'c2', reason: 'rotation ticket 42' },
    file,
  );
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(
    trusted.stdout,
    /key c2 of consumer \(thumbprint [A-Za-z0-9_-]{43}\): trusted by static-token/,
  );
  assert.equal(await verdict(gw, token), 'ok');
  const unknown = await provgate('keys distrust', { issuer: 'consumer', kid: 'nope' }, file);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /gateway refused \(404\)/);
  const prints = await provgate('keys thumbprints', {}, file);
  assert.equal(prints.code, 0, prints.stderr);
  const c2Print = await calculateJwkThumbprint(c2.publicJwk as JWK, 'sha256');
  assert.match(prints.stdout, /^issuers\.consumer\.keys\.pin:$/m);
  assert.ok(prints.stdout.includes(`  - ${c2Print}   # kid c2, EC P-256, ES256`), prints.stdout);
});

test('operators by name: a viewer may list keys but not decide; an operator decides as its sub', async () => {
  const ops = await opsKey();
  const opsDir = tempDir();
  const stub = await startIdpStub(ISS.enterprise, published(k1));
  const withOps = withOperators(
    referenceConfig(opsDir, await keyRing(), {
      upstream: upstream.url,
      issuers: { enterprise: { keys: { url: stub.jwksUrl, newKeys: 'quarantine', cooldownSeconds: 1 } } },
    }),
    opsDir,
    ops,
  );
  const opsGw = await startTestGateway(withOps, { dir: opsDir });
  try {
    stub.keys = published(k1, k2);
    assert.equal(await verdict(opsGw, await sign(k2, enterpriseClaims())), '401 key_quarantined');
    const viewer = await operatorToken(ops, 'vera', 'viewer');
    const operator = await operatorToken(ops, 'carol', 'operator');
    assert.equal((await admin(opsGw.adminUrl, 'GET', '/keys', undefined, viewer)).status, 200);
    const refused = await admin(opsGw.adminUrl, 'POST', '/keys/enterprise/k2/trust', {}, viewer);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.reason, 'insufficient_role');
    assert.equal(await verdict(opsGw, await sign(k2, enterpriseClaims())), '401 key_quarantined');
    const decided = await admin(
      opsGw.adminUrl,
      'POST',
      '/keys/enterprise/k2/trust',
      { by: 'someone else' },
      operator,
    );
    assert.equal(decided.status, 201);
    const record = decided.body.record as Record<string, unknown>;
    assert.deepEqual([record.by, record.byIssuer, record.note], ['carol', 'ops', 'someone else']);
    assert.equal(await verdict(opsGw, await sign(k2, enterpriseClaims())), 'ok');
  } finally {
    await opsGw.close();
    await stub.close();
  }
});
