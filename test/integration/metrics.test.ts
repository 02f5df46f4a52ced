import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { AdminGuard } from '../../src/admin/admin-auth.js';
import { AdminEvents } from '../../src/admin/admin-events.js';
import { registerMetricsRoute } from '../../src/admin/metrics-route.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
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
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let gw: TestGateway;
let text: string;
let contentType: string | null;

before(async () => {
  upstream = await startUpstream();
  const dir = tempDir();
  const ring = await keyRing();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
  const token = await sign(ring.enterprise, enterpriseClaims());
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/api/mail/messages`, token)).status, 200);
  assert.equal((await get(`${gw.url}/api/mail/messages`)).status, 401);
  assert.equal((await get(`${gw.url}/api/mail/messages`)).status, 401);
  // The Storm-0558 forgery: a consumer key signing for the enterprise issuer.
  assert.equal(
    (await get(`${gw.url}/api/mail/messages`, await sign(ring.consumer, enterpriseClaims()))).status,
    401,
  );
  assert.equal((await get(`${gw.url}/nowhere`)).status, 404);
  const res = await fetch(`${gw.adminUrl}/metrics`);
  assert.equal(res.status, 200, 'Prometheus scrapes without the admin token by default');
  contentType = res.headers.get('content-type');
  text = await res.text();
});
after(async () => {
  await gw.close();
  await upstream.close();
});

function sample(name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[4]);
  }
  return undefined;
}

test('requests are counted by route, outcome and status class', () => {
  assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
  assert.equal(
    sample('provgate_requests_total', { route: 'mail', outcome: 'allowed', status_class: '2xx' }),
    3,
  );
  assert.equal(
    sample('provgate_requests_total', { route: 'mail', outcome: 'refused', status_class: '4xx' }),
    3,
  );
  assert.equal(
    sample('provgate_requests_total', { route: 'none', outcome: 'refused', status_class: '4xx' }),
    1,
  );
});

test('refusals are counted by reason and severity; the forgery is critical', () => {
  assert.equal(sample('provgate_refusals_total', { reason: 'missing_token', severity: 'low' }), 2);
  assert.equal(sample('provgate_refusals_total', { reason: 'key_issuer_mismatch', severity: 'critical' }), 1);
  assert.equal(sample('provgate_refusals_total', { reason: 'no_route', severity: 'low' }), 1);
  assert.equal(sample('provgate_refusals_total', { reason: 'bad_signature', severity: 'high' }), 0);
});

test('verification and upstream latencies are histograms; the cache is visible', () => {
  assert.equal(sample('provgate_token_verification_duration_seconds_count'), 3);
  assert.equal(sample('provgate_token_verification_duration_seconds_bucket', { le: '+Inf' }), 3);
  assert.equal(sample('provgate_upstream_duration_seconds_count', { route: 'mail' }), 3);
  assert.equal(sample('provgate_upstream_duration_seconds_count', { route: 'token' }), 0);
  // Three requests with one token: it enters the cache on its second sighting, the third hits.
  assert.equal(sample('provgate_verified_token_cache_hits_total'), 1);
  assert.ok((sample('provgate_verified_token_cache_misses_total') ?? 0) >= 1);
  assert.ok((sample('provgate_verified_token_cache_entries') ?? 0) >= 1);
});

test('keys, revocations, store and the event loop are exposed', () => {
  assert.equal(sample('provgate_issuer_keys', { issuer: 'enterprise', state: 'active' }), 2);
  assert.equal(sample('provgate_issuer_keys', { issuer: 'consumer', state: 'revoked' }), 0);
  assert.equal(sample('provgate_key_set_loaded', { issuer: 'owa' }), 1);
  assert.equal(sample('provgate_revocations', { kind: 'key' }), 0);
  assert.equal(sample('provgate_revocation_store_up', { store: 'memory' }), 1);
  assert.equal(sample('provgate_revocation_mirror_stale_seconds'), 0);
  assert.equal(sample('provgate_draining'), 0);
  assert.ok(sample('nodejs_eventloop_lag_seconds') !== undefined);
  assert.ok(sample('process_resident_memory_bytes') !== undefined);
});

test('no label carries a subject, token, address or key id', () => {
  for (const secretish of ['alice', '127.0.0.1', 'msa-2016', 'ent-2024', 'eyJ', 'tid-a']) {
    assert.ok(!text.includes(secretish), `metrics mention ${secretish}`);
  }
});

test('admin.metricsRequireToken puts /metrics behind the admin token', async () => {
  const app = Fastify();
  // Only what the guard reads of a configuration generation: the admin section and the token limit.
  const config = {
    admin: configSchema.shape.admin.parse({ token: 'a-long-admin-token-123', metricsRequireToken: true }),
    verification: { maxTokenBytes: 16384 },
  };
  const guard = new AdminGuard({
    runtime: { current: { compiled: { config } } } as never,
    revocations: {} as never,
    clock: Date.now,
    events: new AdminEvents(createLogger('silent'), undefined),
  });
  app.decorateRequest('adminActor', undefined);
  await app.register(async (scope) =>
    registerMetricsRoute(scope, { metrics: new Registry(), guard, requireToken: () => true }),
  );
  assert.equal((await app.inject('/metrics')).statusCode, 401);
  const ok = await app.inject({
    url: '/metrics',
    headers: { authorization: 'Bearer a-long-admin-token-123' },
  });
  assert.equal(ok.statusCode, 200);
  await app.close();
});
