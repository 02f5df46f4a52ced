import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { closeClients, get, getFrom, loopback } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { readiness } from '../helpers/readiness.js';
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ADMIN = 'test-admin-token-0123456789';
let cluster: TestCluster;
let upstream: Upstream;
let a: TestGateway;
let b: TestGateway;
let valid: string;
let forged: string;
let esToken: string;

before(async () => {
  cluster = await startRedisCluster(3);
  upstream = await startUpstream();
  const ring = await keyRing();
  const gateway = async () => {
    const dir = tempDir();
    return startTestGateway(
      referenceConfig(dir, ring, {
        upstream: upstream.url,
        extra: {
          store: {
            kind: 'redis',
            prefix: 'cl:',
            // ioredis Cluster: any reachable master is enough to discover the others.
            redisOptions: { cluster: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) },
          },
          protection: { anomalies: { criticalEvent: { blockSeconds: 600, mode: 'enforce' } } },
          log: { level: 'silent' },
        },
      }),
      { dir },
    );
  };
  a = await gateway();
  b = await gateway();
  valid = await sign(ring.enterprise, enterpriseClaims());
  esToken = await sign(ring.enterpriseEs, enterpriseClaims());
  forged = await sign(ring.consumer, enterpriseClaims());
});
after(async () => {
  // Side by side: with masters gone, each close takes seconds (ioredis gives up on them slowly).
  await Promise.all([a?.close(), b?.close()]);
  closeClients();
  await upstream?.close();
  await cluster?.close();
});

async function revoke(gw: TestGateway, kid: string, issuer = 'enterprise') {
  return get(`${gw.adminUrl}/revocations`, ADMIN, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'key', issuer, kid, reason: 'cluster test' }),
  });
}

/** Polls until `check` holds, every 20 ms: each probe of a blocked address uses a fresh one. */
const within = (timeoutMs: number, message: string, check: () => Promise<boolean>) =>
  waitFor(check, { timeoutMs, intervalMs: 20, message });

// A revoked key's token that still verifies is critical (someone holds that key), so the
// critical-event rule blocks whoever sends it: every such probe comes from an address of its own.
let nextAddress = 100;
const fresh = () => loopback(nextAddress++);

const statusOn = async (gw: TestGateway, token: string, path = '/api/mail/messages') =>
  getFrom(fresh(), `${gw.url}${path}`, token);

const refusedOn = (gw: TestGateway, token: string, reason: string) => async () =>
  (await statusOn(gw, token)).body.reason === reason;

const blockedOn = (gw: TestGateway, address: string) => async () =>
  (await getFrom(address, `${gw.url}/api/mail/messages`, valid)).body.reason === 'blocked_source';

test('on a healthy cluster a revocation made through A is refused by B within 1 s', async () => {
  assert.equal((await statusOn(b, esToken)).status, 200);
  assert.equal((await revoke(a, 'ent-es-1')).status, 201);
  await within(1000, 'B refuses the revoked key', refusedOn(b, esToken, 'key_revoked'));
});

test('a critical refusal on A blocks its source on B', async () => {
  const source = loopback(1);
  const refused = await getFrom(source, `${a.url}/api/mail/messages`, forged);
  assert.equal(refused.body.reason, 'key_issuer_mismatch');
  await within(1000, 'B refuses the blocked source', blockedOn(b, source));
});

test('a master holding none of the gateway slots dies: revocation, pub/sub and blocking go on', async () => {
  const revOwner = await cluster.ownerOf('rev');
  const owners = new Set([
    revOwner.port,
    (await cluster.ownerOf('prot')).port,
    (await cluster.ownerOf('events')).port,
  ]);
  // With three masters the three tags may cover all of them; then lose one that is not {rev}'s.
  const bystander =
    cluster.nodes.find((n) => !owners.has(n.port)) ?? cluster.nodes.find((n) => n.port !== revOwner.port)!;
  await bystander.kill();
  await cluster.markedFailed(bystander);
  assert.equal((await statusOn(a, valid)).status, 200);
  const res = await revoke(a, 'ent-2024');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  // Within 1 s, before the 5 s version check: pub/sub still carries the change (ioredis moves its
  // cluster subscriber to a live node when its node dies).
  await within(1000, 'B refuses the key revoked after the loss', refusedOn(b, valid, 'key_revoked'));
  const source = loopback(2);
  await getFrom(source, `${a.url}/api/mail/messages`, forged);
  await within(1500, 'B refuses the source blocked after the loss', blockedOn(b, source));
});

test('the master of the {rev} slot dies: both serve from their mirrors, new revocations get 503', async () => {
  const revOwner = await cluster.ownerOf('rev');
  await revOwner.kill();
  await cluster.markedFailed(revOwner); // with no replica, the slot is now served by no one
  const started = performance.now();
  const res = await revoke(a, 'owa-1', 'owa');
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.equal(res.body.error, 'store_unavailable');
  assert.ok(performance.now() - started < 5000, 'refused promptly, not hung');
  const ring = await keyRing();
  const owaToken = await sign(ring.owa, { ...enterpriseClaims(), iss: 'https://mail.example.test/owa' });
  for (const gw of [a, b]) {
    // Still served from the mirror: revoked keys stay refused, everything else passes.
    assert.equal((await statusOn(gw, esToken)).body.reason, 'key_revoked');
    assert.equal((await statusOn(gw, owaToken, '/api/resource/x')).status, 200, 'nothing half-applied');
    // A failed write, or the next version check (store.resyncSeconds, 5 s here), finds the slot
    // gone: degraded, still in the balancer (serve-stale), and fail-closed would count from here.
    await within(gw === a ? 1000 : 6500, 'readiness says degraded', async () => {
      const ready = await readiness(gw);
      return ready.status === 200 && ready.body.status === 'degraded';
    });
  }
});
