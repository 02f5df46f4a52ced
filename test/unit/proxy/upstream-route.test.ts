import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { clientResponseHeaders } from '../../../src/proxy/response-headers.js';
import { UpstreamPools } from '../../../src/proxy/upstream-pools.js';
import { upstreamPath, upstreamTargetOf } from '../../../src/proxy/upstream-route.js';

const pools = new UpstreamPools({ connections: 4, maxQueued: 4, retryAfterSeconds: 1 });

function target(prefix: string, rewritePrefix?: string, upstream = 'http://127.0.0.1:9090') {
  return upstreamTargetOf(
    { name: 'r', prefix, upstream, rewritePrefix, timeoutMs: 1000, bodyIdleTimeoutMs: 1000 } as CompiledRoute,
    pools,
  );
}

test('without rewritePrefix (or with the prefix itself) the path reaches the upstream unchanged', () => {
  for (const t of [target('/api/mail'), target('/api/mail', '/api/mail')]) {
    assert.equal(t.rewrite, undefined);
    assert.equal(upstreamPath(t, '/api/mail/messages/1'), '/api/mail/messages/1');
    assert.equal(upstreamPath(t, '/api/mail'), '/api/mail');
    assert.equal(upstreamPath(t, '/api/mail?top=5&x=%2F'), '/api/mail?top=5&x=%2F');
  }
  assert.equal(upstreamPath(target('/'), '/x/y'), '/x/y');
});

test('rewritePrefix replaces the route prefix, as @fastify/http-proxy did; the query is kept', () => {
  const cal = target('/api/calendar', '/cal');
  assert.equal(upstreamPath(cal, '/api/calendar/events'), '/cal/events');
  assert.equal(upstreamPath(cal, '/api/calendar'), '/cal');
  assert.equal(upstreamPath(cal, '/api/calendar?page=2'), '/cal?page=2');
  const root = target('/api/mail', '/');
  assert.equal(upstreamPath(root, '/api/mail/x'), '/x');
  assert.equal(upstreamPath(root, '/api/mail'), '/');
  assert.equal(upstreamPath(root, '/api/mail?q=1'), '/?q=1');
  assert.equal(upstreamPath(target('/', '/v1'), '/x'), '/v1/x');
  assert.equal(upstreamPath(target('/api', 'v2'), '/api/x'), '/v2/x');
});

test('one pool per origin, shared by the routes that name it; only the origin of the URL counts', () => {
  const a = target('/a', undefined, 'https://mail.example.test:8443/');
  const b = target('/b', undefined, 'https://mail.example.test:8443/other');
  assert.equal(a.origin, 'https://mail.example.test:8443');
  assert.equal(a.pool, b.pool);
  assert.notEqual(a.pool, target('/c').pool);
  // The request target is origin-form, so '//evil.example/x' is a path on the pool's origin.
  assert.equal(upstreamPath(a, '//evil.example/x'), '//evil.example/x');
});

test('a Location naming the upstream path is sent back under the gateway prefix', () => {
  const { location } = target('/api/calendar', '/cal');
  const rewrite = (value: string) => clientResponseHeaders({ location: value }, location).location;
  assert.equal(rewrite('/cal/events/7'), '/api/calendar/events/7');
  assert.equal(rewrite('/cal?page=2'), '/api/calendar?page=2');
  // Not the upstream prefix: another path that merely begins with the same letters, or contains it.
  assert.equal(rewrite('/calendar/7'), '/calendar/7');
  assert.equal(rewrite('/other/cal/7'), '/other/cal/7');
  assert.equal(rewrite('https://elsewhere.test/cal/x'), 'https://elsewhere.test/cal/x');
  assert.equal(target('/api/mail').location, undefined);
});

test('response values Node would refuse are cleaned; hop-by-hop fields and those Connection names go', () => {
  const headers = clientResponseHeaders(
    {
      'x-a': 'ok',
      'x-b': 'bad\u0000value',
      'set-cookie': ['a=1', 'b=2\u0001'],
      connection: 'close, X-Internal',
      'x-internal': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      upgrade: 'h2c',
      'transfer-encoding': 'chunked',
      trailer: 'x-checksum',
      te: 'trailers',
      'content-length': '12',
    },
    undefined,
  );
  assert.deepEqual(headers, {
    'x-a': 'ok',
    'x-b': 'badvalue',
    'set-cookie': ['a=1', 'b=2'],
    'content-length': '12',
  });
});
