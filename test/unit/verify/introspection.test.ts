import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { configSchema } from '../../../src/config/schema.js';
import { clientCredentials, formEncode } from '../../../src/verify/introspection/client-credentials.js';
import { ConcurrencyLimit } from '../../../src/verify/introspection/concurrency-limit.js';
import { IntrospectionUnavailable } from '../../../src/verify/introspection/introspection-unavailable.js';
import { inactive } from '../../../src/verify/introspection/introspector.js';

const introspection = (over: Record<string, unknown>) =>
  configSchema.shape.routes.element.shape.introspection.unwrap().parse({
    issuer: 'enterprise',
    clientId: 'gateway client',
    ...over,
  });

describe('what an answer says about the token', () => {
  const claims = { iss: 'https://idp.test', sub: 'alice', jti: 'j1', exp: 2000 };
  const answer = (over: Record<string, unknown> = {}) => ({
    active: true,
    sub: undefined,
    iss: undefined,
    jti: undefined,
    exp: undefined,
    ...over,
  });

  test('active, with or without the optional members, vouches for the token', () => {
    assert.equal(inactive(answer(), claims, 1000), undefined);
    assert.equal(
      inactive(answer({ sub: 'alice', iss: 'https://idp.test', jti: 'j1', exp: 2000 }), claims, 1000),
      undefined,
    );
  });

  test('not active, another sub, iss or jti, or a past exp refuse it', () => {
    assert.match(inactive(answer({ active: false }), claims, 1000)!, /not active/);
    assert.match(inactive(answer({ sub: 'mallory' }), claims, 1000)!, /sub/);
    assert.match(inactive(answer({ iss: 'https://other.test' }), claims, 1000)!, /iss/);
    assert.match(inactive(answer({ jti: 'j2' }), claims, 1000)!, /jti/);
    assert.match(inactive(answer({ exp: 1000 }), claims, 1000)!, /exp/);
    // A member of the wrong JSON type is a difference too, never a match by coercion.
    assert.match(inactive(answer({ sub: ['alice'] }), claims, 1000)!, /sub/);
  });
});

describe('client credentials', () => {
  test('client_secret_basic form-urlencodes id and secret before base64 (RFC 6749 section 2.3.1)', async () => {
    const creds = clientCredentials(introspection({ clientSecret: 'p@ss w:rd/+' }));
    const { authorization, form } = await creds.forRequest('https://idp.test/introspect');
    assert.deepEqual(form, {});
    const decoded = Buffer.from(authorization!.replace(/^Basic /, ''), 'base64').toString();
    assert.equal(decoded, 'gateway+client:p%40ss+w%3Ard%2F%2B');
    assert.equal(formEncode('a b&c'), 'a+b%26c');
  });

  test('private_key_jwt: a fresh assertion per request, for this endpoint, short-lived', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'gw-1', alg: 'ES256' };
    const creds = clientCredentials(introspection({ privateKeyJwt: { jwk: JSON.stringify(jwk) } }));
    const first = await creds.forRequest('https://idp.test/introspect');
    const second = await creds.forRequest('https://idp.test/introspect');
    assert.equal(first.authorization, undefined);
    assert.equal(first.form.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const claims = decodeJwt(first.form.client_assertion!);
    assert.equal(claims.iss, 'gateway client');
    assert.equal(claims.sub, 'gateway client');
    assert.equal(claims.aud, 'https://idp.test/introspect');
    assert.ok(claims.exp! - claims.iat! <= 60);
    assert.notEqual(claims.jti, decodeJwt(second.form.client_assertion!).jti);
    assert.equal(decodeProtectedHeader(first.form.client_assertion!).kid, 'gw-1');
  });

  test('the schema wants exactly one kind of credential', () => {
    assert.throws(() => introspection({}));
    assert.throws(() => introspection({ clientSecret: 's', privateKeyJwt: { jwk: '{}' } }));
    const parsed = introspection({ clientSecret: 's' });
    assert.equal(parsed.cacheSeconds, 30);
    assert.equal(parsed.onUnavailable, 'fail-closed');
    assert.throws(() => introspection({ clientSecret: 's', cacheSeconds: 301 }), 'at most 300 s');
  });
});

describe('the per-endpoint concurrency bound', () => {
  const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('at most `max` at once; the rest wait their turn', async () => {
    const limit = new ConcurrencyLimit(2, 10);
    let running = 0;
    let most = 0;
    const work = async () => {
      running += 1;
      most = Math.max(most, running);
      await later(10);
      running -= 1;
    };
    await Promise.all(Array.from({ length: 8 }, () => limit.run(work, performance.now() + 1000)));
    assert.equal(most, 2);
    assert.equal(limit.active, 0);
  });

  test('a full queue refuses at once; a wait past the deadline gives up', async () => {
    const limit = new ConcurrencyLimit(1, 1);
    const hold = limit.run(() => later(50), performance.now() + 1000);
    const queued = limit.run(async () => 'ran', performance.now() + 1000);
    await assert.rejects(
      limit.run(async () => 'never', performance.now() + 1000),
      IntrospectionUnavailable,
    );
    assert.equal(await queued, 'ran');
    await hold;
    const busy = new ConcurrencyLimit(1, 5);
    const long = busy.run(() => later(100), performance.now() + 1000);
    await assert.rejects(
      busy.run(async () => 'late', performance.now() + 10),
      /time-out/,
    );
    await long;
    assert.equal(busy.queued, 0);
  });
});
