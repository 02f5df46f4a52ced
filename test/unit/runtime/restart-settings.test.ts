import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Config, configSchema } from '../../../src/config/schema.js';
import { keepRestartSettings } from '../../../src/runtime/restart-settings.js';

const base = {
  issuers: {
    e: {
      issuer: 'https://e.test',
      role: 'identity-provider',
      keys: { file: 'e.json' },
      algorithms: ['RS256'],
    },
  },
  routes: [
    { name: 'mail', prefix: '/api/mail', upstream: 'http://127.0.0.1:1', audience: 'a', issuers: ['e'] },
  ],
};
const parse = (extra: Record<string, unknown>): Config => configSchema.parse({ ...base, ...extra });

test('a file that changes nothing restart-only is taken as it is', () => {
  const running = parse({});
  const next = parse({
    admin: { token: 'a-new-admin-token-123456' },
    lifecycle: { readinessGraceSeconds: 3 },
  });
  const { config, kept } = keepRestartSettings(running, next);
  assert.deepEqual(kept, []);
  assert.deepEqual(config, next);
});

test('restart-only settings keep their running values, each named once; the rest applies', () => {
  const running = parse({ store: { kind: 'redis', url: 'redis://:pw@10.0.0.1:6379' }, workers: 2 });
  const next = parse({
    listen: { port: 9999 },
    admin: { port: 9902, token: 'a-new-admin-token-123456' },
    store: { kind: 'redis', url: 'redis://:other-pw@10.0.0.2:6379' },
    workers: 2,
    verification: { maxTokenBytes: 4096, forgeryChecksPerSecond: 5 },
    lifecycle: { maxEventLoopDelayMs: 50, readinessGraceSeconds: 2 },
  });
  const { config, kept } = keepRestartSettings(running, next);
  assert.deepEqual(
    kept.map((line) => line.split(':')[0]),
    ['listen', 'admin.port', 'store', 'verification.maxTokenBytes', 'lifecycle.maxEventLoopDelayMs'],
  );
  assert.ok(!kept.join('\n').includes('pw@'), 'a store value is never printed');
  assert.equal(config.listen.port, running.listen.port);
  assert.equal(config.admin.port, running.admin.port);
  assert.deepEqual(config.store, running.store);
  assert.equal(config.verification.maxTokenBytes, running.verification.maxTokenBytes);
  assert.equal(config.lifecycle.maxEventLoopDelayMs, running.lifecycle.maxEventLoopDelayMs);
  // What a reload does change.
  assert.equal(config.admin.token, 'a-new-admin-token-123456');
  assert.equal(config.verification.forgeryChecksPerSecond, 5);
  assert.equal(config.lifecycle.readinessGraceSeconds, 2);
  assert.equal(next.listen.port, 9999, 'the parsed file itself is left alone');
});
