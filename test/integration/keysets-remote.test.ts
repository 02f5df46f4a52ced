import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  ISS,
  type KeyRing,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpMode, type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { ecKeyRing, ecReferenceConfig, logEvents, signAt, withKids } from '../helpers/keysets-fixture.js';
import { waitFor } from '../helpers/poll.js';
import { readiness } from '../helpers/readiness.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let probeKey: DevKeyPair;
let upstream: Upstream;
let idp: IdpStub;
let gw: TestGateway;
const clock = new TestClock();

before(async () => {
  ring = await ecKeyRing();
  probeKey = await generateDevKey('ES256', 'probe');
  upstream = await startUpstream();
  idp = await startIdpStub(ISS.enterprise, [ring.enterpriseEs.publicJwk]);
  const dir = tempDir();
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { url: idp.jwksUrl, cooldownSeconds: 30, timeoutSeconds: 1 } } },
  });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});

after(async () => {
  await gw.close();
  await idp.close();
  await upstream.close();
});

const mail = () => `${gw.url}/api/mail/messages`;
const enterpriseToken = (key: DevKeyPair = ring.enterpriseEs) => signAt(key, enterpriseClaims(), clock);

test('a remote key set loads at startup and serves tokens; /readyz shows where it came from', async () => {
  const res = await get(mail(), await enterpriseToken());
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const ready = await readiness(gw);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ready');
  const enterprise = ready.body.keys?.enterprise;
  assert.equal(enterprise?.source, `url ${idp.jwksUrl}`);
  assert.equal(enterprise?.loaded, true);
  assert.equal(enterprise?.keyCount, 1);
  assert.ok(enterprise?.lastRefreshAt !== undefined && enterprise.lastSuccessAt !== undefined);
  assert.equal(enterprise?.lastError, undefined);
  assert.match(ready.body.keys?.consumer?.source ?? '', /^file .*consumer\.jwks\.json$/);
});

test('a key the IdP starts publishing is honoured at once, for the price of one fetch', async () => {
  const fresh = await generateDevKey('ES256', 'ent-2');
  idp.keys = [...idp.keys, fresh.publicJwk];
  const fetchesBefore = idp.requests.jwks;
  const res = await get(mail(), await enterpriseToken(fresh));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(idp.requests.jwks, fetchesBefore + 1);
  const refreshed = logEvents(gw, 'keys.refreshed').at(-1);
  assert.deepEqual(refreshed?.added, ['ent-2']);
  assert.equal(refreshed?.trigger, 'unknown-kid');
});

test('a flood of 1,000 unknown kids costs the IdP at most one fetch per cooldown', async () => {
  clock.advanceSeconds(31);
  const fetchesBefore = idp.requests.jwks;
  const signed = await signAt(probeKey, enterpriseClaims(), clock);
  const tokens = withKids(
    signed,
    Array.from({ length: 1000 }, (_, i) => `probe-${i}`),
  );
  const reasons = new Map<string, number>();
  for (let i = 0; i < tokens.length; i += 100) {
    const batch = await Promise.all(tokens.slice(i, i + 100).map((t) => get(mail(), t)));
    for (const res of batch) {
      const key = `${res.status} ${String(res.body.reason)}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
  }
  assert.deepEqual([...reasons], [['401 unknown_key', 1000]]);
  assert.equal(idp.requests.jwks, fetchesBefore + 1, 'one fetch for the whole flood');

  clock.advanceSeconds(29);
  await get(mail(), tokens[0]);
  assert.equal(idp.requests.jwks, fetchesBefore + 1, 'still inside the cooldown');
  clock.advanceSeconds(2);
  await get(mail(), tokens[1]);
  await get(mail(), tokens[2]);
  assert.equal(idp.requests.jwks, fetchesBefore + 2, 'one more once the cooldown is over');
});

test('requests for a new key wait for the one refetch in flight, then pass', async () => {
  clock.advanceSeconds(31);
  const fresh = await generateDevKey('ES256', 'ent-3');
  idp.keys = [...idp.keys, fresh.publicJwk];
  const fetchesBefore = idp.requests.jwks;
  const release = idp.hold();
  const token = await enterpriseToken(fresh);
  const pending = Promise.all(Array.from({ length: 20 }, () => get(mail(), token)));
  await waitFor(() => idp.waiting === 1, { timeoutMs: 2000 });
  // Meanwhile a known kid is not held up by the refetch.
  assert.equal((await get(mail(), await enterpriseToken())).status, 200);
  release();
  const results = await pending;
  assert.deepEqual(
    results.map((r) => r.status),
    Array(20).fill(200),
  );
  assert.equal(idp.requests.jwks, fetchesBefore + 1);
});

const FAILURES: [IdpMode | 'empty', RegExp][] = [
  ['down', /unreachable|closed|socket/i],
  ['error', /HTTP 500/],
  ['garbage', /not JSON/],
  ['not-a-set', /not a JWK set/],
  ['huge', /larger than 1048576 bytes/],
  ['slow', /no complete answer within 1000 ms/],
  ['empty', /no usable key/],
];

test('an IdP that is down or answers garbage leaves the last good set in force', async () => {
  const keySets = gw.running.compiled.keySets;
  const keysBefore = idp.keys;
  for (const [mode, error] of FAILURES) {
    if (mode === 'empty') idp.keys = [];
    else idp.mode = mode;
    const outcome = await keySets.refresh('enterprise');
    assert.equal(outcome.ok, false, mode);
    const res = await get(mail(), await enterpriseToken());
    assert.equal(res.status, 200, `${mode}: ${JSON.stringify(res.body)}`);
    const ready = await readiness(gw);
    assert.equal(ready.status, 200, mode);
    assert.equal(ready.body.status, 'degraded', mode);
    assert.match(ready.body.keys?.enterprise?.lastError ?? '', error, mode);
    assert.equal(ready.body.keys?.enterprise?.keyCount, 3, mode);
    idp.mode = 'ok';
    idp.keys = keysBefore;
  }
  assert.ok(logEvents(gw, 'keys.refresh_failed').length >= FAILURES.length);
  assert.equal((await keySets.refresh('enterprise')).ok, true);
  const ready = await readiness(gw);
  assert.equal(ready.body.status, 'ready');
  assert.equal(ready.body.keys?.enterprise?.lastError, undefined);
});

test('Cache-Control max-age sets the next refresh, within [60 s, refreshSeconds]', async () => {
  const keySets = gw.running.compiled.keySets;
  const nextIn = () => {
    const next = keySets.status().find((s) => s.issuerId === 'enterprise')?.nextRefreshAt;
    return (Date.parse(next ?? '') - clock.now()) / 1000;
  };
  for (const [header, seconds] of [
    ['public, max-age=120', 120],
    ['max-age=5', 60],
    ['no-store', 60],
    ['max-age=999999', 3600],
    [undefined, 3600],
  ] as const) {
    idp.cacheControl = header;
    await keySets.refresh('enterprise');
    assert.equal(nextIn(), seconds, String(header));
  }
});
