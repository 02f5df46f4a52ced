import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentEvents } from '../../../src/observability/recent-events.js';
import type { SecurityEventRecord } from '../../../src/observability/security-events.js';

const event = (severity: 'low' | 'high' | 'critical', reason = 'bad_signature') =>
  ({ event: 'auth.refused', reason, severity }) as SecurityEventRecord;

test('the ring keeps only the newest events, numbered, oldest first', () => {
  const ring = new RecentEvents(3);
  for (let i = 1; i <= 5; i++) ring.push(event('low'), i * 1000);
  assert.equal(ring.latestSeq, 5);
  assert.deepEqual(
    ring.query({}).map((e) => e.seq),
    [3, 4, 5],
  );
  assert.deepEqual(
    ring.query({ afterSeq: 4 }).map((e) => e.seq),
    [5],
  );
  assert.deepEqual(
    ring.query({ afterSeq: 1 }).map((e) => e.seq),
    [3, 4, 5],
  );
});

test('queries filter by minimum severity, time and limit', () => {
  const ring = new RecentEvents(10);
  ring.push(event('low'), 1000);
  ring.push(event('high'), 2000);
  ring.push(event('critical'), 3000);
  ring.push(event('low'), 4000);
  assert.deepEqual(
    ring.query({ minSeverity: 'high' }).map((e) => e.event.severity),
    ['high', 'critical'],
  );
  assert.deepEqual(
    ring.query({ sinceMs: 2500 }).map((e) => e.seq),
    [3, 4],
  );
  assert.deepEqual(
    ring.query({ limit: 2 }).map((e) => e.seq),
    [3, 4],
  );
});
