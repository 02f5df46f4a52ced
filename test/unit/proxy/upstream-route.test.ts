import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { upstreamTargetOf, upstreamUrl } from '../../../src/proxy/upstream-route.js';

function target(prefix: string, rewritePrefix?: string, upstream = 'http://127.0.0.1:9090') {
  return upstreamTargetOf({ name: 'r', prefix, upstream, rewritePrefix, timeoutMs: 1000 } as CompiledRoute);
}

test('without rewritePrefix (or with the prefix itself) the path reaches the upstream unchanged', () => {
  for (const t of [target('/api/mail'), target('/api/mail', '/api/mail')]) {
    assert.equal(t.rewrite, undefined);
    assert.equal(upstreamUrl(t, '/api/mail/messages/1'), 'http://127.0.0.1:9090/api/mail/messages/1');
    assert.equal(upstreamUrl(t, '/api/mail'), 'http://127.0.0.1:9090/api/mail');
  }
  assert.equal(upstreamUrl(target('/'), '/x/y'), 'http://127.0.0.1:9090/x/y');
});

test('rewritePrefix replaces the route prefix, as @fastify/http-proxy did', () => {
  const cal = target('/api/calendar', '/cal');
  assert.equal(upstreamUrl(cal, '/api/calendar/events'), 'http://127.0.0.1:9090/cal/events');
  assert.equal(upstreamUrl(cal, '/api/calendar'), 'http://127.0.0.1:9090/cal');
  const root = target('/api/mail', '/');
  assert.equal(upstreamUrl(root, '/api/mail/x'), 'http://127.0.0.1:9090/x');
  assert.equal(upstreamUrl(root, '/api/mail'), 'http://127.0.0.1:9090/');
  assert.equal(upstreamUrl(target('/', '/v1'), '/x'), 'http://127.0.0.1:9090/v1/x');
  assert.equal(upstreamUrl(target('/api', 'v2'), '/api/x'), 'http://127.0.0.1:9090/v2/x');
});

test('only the origin of the upstream counts, and the request path can never change it', () => {
  const t = target('/', undefined, 'https://mail.example.test:8443/');
  assert.equal(t.origin, 'https://mail.example.test:8443');
  assert.equal(new URL(upstreamUrl(t, '//evil.example/x')).host, 'mail.example.test:8443');
});

test('a Location naming the upstream path is sent back under the gateway prefix', () => {
  const rewrite = target('/api/calendar', '/cal').replyOptions.rewriteHeaders!;
  assert.deepEqual(rewrite({ location: '/cal/events/7' }), { location: '/api/calendar/events/7' });
  assert.deepEqual(rewrite({ location: '/cal?page=2' }), { location: '/api/calendar?page=2' });
  // Not the upstream prefix: another path that merely begins with the same letters, or contains it.
  assert.deepEqual(rewrite({ location: '/calendar/7' }), { location: '/calendar/7' });
  assert.deepEqual(rewrite({ location: '/other/cal/7' }), { location: '/other/cal/7' });
  assert.deepEqual(rewrite({ location: 'https://elsewhere.test/cal/x' }), {
    location: 'https://elsewhere.test/cal/x',
  });
  const clean = target('/api/mail').replyOptions.rewriteHeaders!;
  assert.deepEqual(clean({ 'x-a': 'ok', 'x-b': 'bad\u0000value' }), { 'x-a': 'ok', 'x-b': 'badvalue' });
});
