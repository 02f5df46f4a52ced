import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import type { KeyEntry } from '../../../src/keys/key-entry.js';
import { LocalHistogram } from '../../../src/observability/local-histogram.js';
import { RequestStats } from '../../../src/observability/request-stats.js';
import type { RefusalEvent } from '../../../src/observability/security-events.js';
import { REASON_CODES } from '../../../src/verify/reasons.js';

test('a local histogram counts into the first bucket whose bound holds the value, +Inf last', () => {
  const h = new LocalHistogram([1, 2, 5], 2);
  for (const v of [0.5, 1, 1.5, 2, 4, 9]) h.observe(1, v);
  assert.deepEqual(h.cumulative(1), [2, 4, 5, 6]);
  assert.deepEqual(h.cumulative(0), [0, 0, 0, 0]);
  assert.equal(h.count(1), 6);
  assert.equal(h.sums[1], 18);
});

test('refusals are counted by reason and severity, with running totals for the rate charts', () => {
  const stats = new RequestStats([]);
  const event = (reason: RefusalEvent['reason'], severity: RefusalEvent['severity']) =>
    ({ event: 'auth.refused', reason, severity }) as RefusalEvent;
  stats.refused(event('key_issuer_mismatch', 'critical'));
  stats.refused(event('key_issuer_mismatch', 'high'));
  stats.refused(event('missing_token', 'low'));
  const mismatch = REASON_CODES.indexOf('key_issuer_mismatch');
  assert.equal(stats.refusalCount(mismatch, 2), 1);
  assert.equal(stats.refusalCount(mismatch, 1), 1);
  assert.equal(stats.totalRefusals, 3);
  assert.deepEqual([...stats.refusalsBySeverity], [1, 1, 1]);
});

test('requests are counted per route, outcome and status class from the onResponse hook', () => {
  const mail = { name: 'mail' } as CompiledRoute;
  const stats = new RequestStats([mail]);
  const respond = (route: CompiledRoute | null, auth: unknown, statusCode: number) =>
    stats.onResponse.call(
      undefined as never,
      { gatewayRoute: route, auth } as never,
      { statusCode, elapsedTime: 12 } as never,
      () => {},
    );
  respond(mail, {}, 200);
  respond(mail, {}, 200);
  respond(mail, null, 401);
  respond(null, null, 404);
  assert.deepEqual(stats.routeNames, ['mail', 'none']);
  assert.equal(stats.requestCount(0, 0, 1), 2); // mail, allowed, 2xx
  assert.equal(stats.requestCount(0, 1, 3), 1); // mail, refused, 4xx
  assert.equal(stats.requestCount(1, 1, 3), 1); // none, refused, 4xx
  assert.equal(stats.upstream.count(0), 2);
  assert.equal(stats.upstream.sums[0], 0.024);
  assert.equal(stats.totalRequests, 4);
});

test('the key that verified a token is remembered per issuer and kid', () => {
  const stats = new RequestStats([]);
  const before = Date.now();
  stats.verified({ issuerId: 'enterprise', kid: 'ent-2024' } as KeyEntry, performance.now());
  const seen = stats.keyLastSeen('enterprise', 'ent-2024');
  assert.ok(seen !== undefined && seen >= before - 5 && seen <= Date.now() + 5);
  assert.equal(stats.keyLastSeen('enterprise', 'other'), undefined);
  assert.equal(stats.verification.count(0), 1);
});

test('routes a reload adds get rows of their own; existing rows and the no-route row keep their counts', () => {
  const mail = { name: 'mail' } as CompiledRoute;
  const stats = new RequestStats([mail]);
  const respond = (route: CompiledRoute | null, statusCode: number) =>
    stats.onResponse.call(
      undefined as never,
      { gatewayRoute: route, auth: {} } as never,
      { statusCode, elapsedTime: 5 } as never,
      () => {},
    );
  respond(mail, 200);
  respond(null, 200);
  // The next generation: its own route objects, one name old and one new.
  const mail2 = { name: 'mail' } as CompiledRoute;
  const calendar = { name: 'calendar' } as CompiledRoute;
  stats.addRoutes([mail2, calendar]);
  stats.addRoutes([mail2, calendar]);
  assert.deepEqual(stats.routeNames, ['mail', 'calendar', 'none']);
  respond(mail2, 200);
  respond(calendar, 200);
  respond(calendar, 200);
  assert.equal(stats.requestCount(0, 0, 1), 2);
  assert.equal(stats.requestCount(1, 0, 1), 2);
  assert.equal(stats.requestCount(2, 0, 1), 1);
  assert.equal(stats.upstream.series, 3);
  assert.deepEqual(
    [0, 1, 2].map((s) => stats.upstream.count(s)),
    [2, 2, 1],
  );
});
