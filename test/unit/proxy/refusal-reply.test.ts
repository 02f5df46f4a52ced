// The wire form of a refusal, written by Fastify (sendRefusal, driven with inject: no socket) and
// on a raw socket (writeRawRefusal, into a PassThrough): the same status, headers and body.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { refusalOf, sendRefusal, writeRawRefusal } from '../../../src/proxy/refusal-reply.js';

describe('refusalOf', () => {
  test('missing_token: a challenge without an error attribute (RFC 6750 3.1)', () => {
    const r = refusalOf('missing_token');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="provgate"');
    assert.deepEqual(JSON.parse(r.body), { error: 'invalid_token', reason: 'missing_token' });
  });

  test('token and scope refusals name their error and reason in the challenge; others have none', () => {
    assert.equal(
      refusalOf('key_issuer_mismatch').headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="key_issuer_mismatch"',
    );
    assert.equal(
      refusalOf('insufficient_scope').headers['www-authenticate'],
      'Bearer error="insufficient_scope", error_description="insufficient_scope"',
    );
    assert.equal(refusalOf('subject_blocked').status, 401);
    for (const reason of ['blocked_network', 'no_route', 'rate_limited', 'overloaded'] as const)
      assert.equal(refusalOf(reason).headers['www-authenticate'], undefined, reason);
  });

  test('Retry-After in whole seconds, at least one; the step’s own headers first', () => {
    assert.equal(refusalOf('overloaded', 0.2).headers['retry-after'], '1');
    assert.equal(refusalOf('keys_unavailable', 44.1).headers['retry-after'], '45');
    const r = refusalOf('rate_limited', 45, {
      'ratelimit-policy': '"a";q=3;w=60',
      ratelimit: '"a";r=0;t=45',
    });
    assert.deepEqual(Object.keys(r.headers), [
      'ratelimit-policy',
      'ratelimit',
      'retry-after',
      'cache-control',
      'content-type',
    ]);
  });

  test('a refusal without extras is built once per reason', () => {
    assert.equal(refusalOf('no_route'), refusalOf('no_route'));
    assert.notEqual(refusalOf('overloaded', 10), refusalOf('overloaded', 10));
  });
});

describe('the two writers', () => {
  test('sendRefusal: status, headers and a JSON body as Fastify sends them', async () => {
    const app = Fastify();
    app.get('/limited', (_req, reply) =>
      sendRefusal(reply, refusalOf('rate_limited', 45, { ratelimit: '"a";r=0;t=45' })),
    );
    app.get('/plain', (_req, reply) => sendRefusal(reply, 'overloaded', 10));
    const limited = await app.inject('/limited');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(limited.headers['cache-control'], 'no-store');
    assert.equal(limited.headers['retry-after'], '45');
    assert.equal(limited.headers.ratelimit, '"a";r=0;t=45');
    assert.equal(limited.body, '{"error":"rate_limited","reason":"rate_limited"}');
    const plain = await app.inject('/plain');
    assert.equal(plain.statusCode, 503);
    assert.equal(plain.headers['retry-after'], '10');
    assert.deepEqual(plain.json(), { error: 'unavailable', reason: 'overloaded' });
    await app.close();
  });

  test('writeRawRefusal: the whole HTTP/1.1 response, then the end of the connection', async () => {
    const socket = new PassThrough();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => socket.on('end', resolve));
    writeRawRefusal(socket, refusalOf('token_revoked'));
    await ended;
    const text = Buffer.concat(chunks).toString();
    const body = '{"error":"invalid_token","reason":"token_revoked"}';
    assert.equal(
      text,
      'HTTP/1.1 401 Unauthorized\r\n' +
        'www-authenticate: Bearer error="invalid_token", error_description="token_revoked"\r\n' +
        'cache-control: no-store\r\n' +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${body.length}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
  });
});
