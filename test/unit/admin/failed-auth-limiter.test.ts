import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailedAuthLimiter } from '../../../src/admin/failed-auth-limiter.js';

test('more than maxFailures in a window blocks the address for blockSeconds, once; others are untouched', () => {
  const limiter = new FailedAuthLimiter({ maxFailures: 3, windowSeconds: 60, blockSeconds: 300 });
  const t0 = 60_000 * 1000;
  for (let i = 0; i < 3; i++) assert.equal(limiter.failed('10.0.0.1', t0 + i), undefined);
  assert.equal(limiter.blocked('10.0.0.1', t0 + 3), undefined);
  assert.equal(limiter.failed('10.0.0.1', t0 + 4), t0 + 4 + 300_000);
  assert.equal(limiter.failed('10.0.0.1', t0 + 5), undefined, 'the block is started once');
  assert.equal(limiter.blocked('10.0.0.1', t0 + 10), t0 + 4 + 300_000);
  assert.equal(limiter.blocked('10.0.0.2', t0 + 10), undefined);
  assert.equal(limiter.blocked('10.0.0.1', t0 + 4 + 300_000), undefined, 'over when it ends');
});

test('failures in different windows do not add up', () => {
  const limiter = new FailedAuthLimiter({ maxFailures: 2, windowSeconds: 60, blockSeconds: 60 });
  const t0 = 60_000 * 1000;
  limiter.failed('a', t0);
  limiter.failed('a', t0 + 1);
  assert.equal(limiter.failed('a', t0 + 60_000), undefined);
  assert.equal(limiter.blocked('a', t0 + 60_001), undefined);
});
