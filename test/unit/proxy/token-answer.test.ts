import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { mayBeTokenAnswer, readTokenAnswer } from '../../../src/proxy/token-answer.js';

const JWS = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

test('only a 2xx JSON answer with a body may be a token answer', () => {
  const h = (type: string) => ({ 'content-type': type });
  assert.equal(mayBeTokenAnswer('POST', 200, h('application/json')), true);
  assert.equal(mayBeTokenAnswer('POST', 200, h('application/json; charset=utf-8')), true);
  assert.equal(mayBeTokenAnswer('POST', 201, h('application/token-response+json')), true);
  assert.equal(mayBeTokenAnswer('POST', 200, h('text/plain')), false);
  assert.equal(mayBeTokenAnswer('POST', 200, h('application/jsonp')), false);
  assert.equal(mayBeTokenAnswer('POST', 400, h('application/json')), false);
  assert.equal(mayBeTokenAnswer('POST', 204, h('application/json')), false);
  assert.equal(mayBeTokenAnswer('HEAD', 200, h('application/json')), false);
  assert.equal(mayBeTokenAnswer('POST', 200, {}), false);
});

test('the JWTs of access_token, id_token and refresh_token are picked out', () => {
  const answer = readTokenAnswer(
    json({ access_token: JWS, refresh_token: JWS, id_token: JWS }),
    undefined,
    1024,
  );
  assert.equal(answer.kind, 'tokens');
  assert.deepEqual(answer.kind === 'tokens' ? answer.tokens.map((t) => t.member) : [], [
    'access_token',
    'id_token',
    'refresh_token',
  ]);
  // An opaque refresh token is the authorization server's business.
  const opaque = readTokenAnswer(json({ access_token: JWS, refresh_token: 'opaque' }), undefined, 1024);
  assert.equal(opaque.kind === 'tokens' ? opaque.tokens.length : -1, 1);
});

test('not JSON, not an object, or no token member: none', () => {
  for (const body of [
    Buffer.from('access_token=abc'),
    json([JWS]),
    json('x'),
    json({ error: 'invalid_grant' }),
  ])
    assert.equal(readTokenAnswer(body, undefined, 1024).kind, 'none');
});

test('an access_token that is no JWS, or a member that is no string: malformed', () => {
  assert.equal(readTokenAnswer(json({ access_token: 'opaque' }), undefined, 1024).kind, 'malformed');
  assert.equal(readTokenAnswer(json({ access_token: 42 }), undefined, 1024).kind, 'malformed');
  assert.equal(readTokenAnswer(json({ access_token: JWS, id_token: {} }), undefined, 1024).kind, 'malformed');
  assert.equal(readTokenAnswer(json({ access_token: 'a.b.c.d' }), undefined, 1024).kind, 'malformed');
});

test('gzip, deflate and br are read within the limit; past it, broken or unknown: unreadable', () => {
  const body = json({ access_token: JWS });
  assert.equal(readTokenAnswer(gzipSync(body), 'gzip', 1024).kind, 'tokens');
  assert.equal(readTokenAnswer(brotliCompressSync(body), 'br', 1024).kind, 'tokens');
  assert.equal(readTokenAnswer(body, 'identity', 1024).kind, 'tokens');
  const bomb = gzipSync(json({ access_token: JWS, pad: 'x'.repeat(100_000) }));
  assert.ok(bomb.length < 1024, 'small on the wire');
  assert.equal(readTokenAnswer(bomb, 'gzip', 1024).kind, 'unreadable');
  assert.equal(readTokenAnswer(Buffer.from('nope'), 'gzip', 1024).kind, 'unreadable');
  assert.equal(readTokenAnswer(body, 'zstd', 1024).kind, 'unreadable');
});
