// The introspection step against a real RFC 7662 endpoint on loopback (the stub counts what it
// receives): every answer it can give, the cache and the single flight measured by the stub's own
// request counter, the per-endpoint concurrency bound, the size bound, and both fail modes.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { compileRoutes } from '../../src/config/compile-routes.js';
import { type Config, configSchema } from '../../src/config/schema.js';
import { AuthFailure } from '../../src/verify/auth-failure.js';
import { IntrospectionStats } from '../../src/verify/introspection/introspection-stats.js';
import type { Introspector } from '../../src/verify/introspection/introspector.js';
import { RouteIntrospection } from '../../src/verify/introspection/route-introspection.js';
import { TestClock } from '../helpers/clock.js';
import { ENTERPRISE_ISS } from '../helpers/compiled-issuer.js';
import { type IntrospectionStub, startIntrospectionStub } from '../helpers/introspection-stub.js';
import { NOW_MS, type TokenFixture, tokenFixture } from '../helpers/verified-token.js';

let stub: IntrospectionStub;
let tokens: TokenFixture;
let clock: TestClock;
const opened: RouteIntrospection[] = [];

before(async () => {
  [stub, tokens] = await Promise.all([startIntrospectionStub(ENTERPRISE_ISS), tokenFixture()]);
});
after(async () => {
  await Promise.all(opened.map((o) => o.close()));
  await stub?.close();
});
beforeEach(() => {
  stub.mode = 'active';
  clock = new TestClock(NOW_MS);
});

/** The introspection step of a `mail` route with `introspection` settings over the stub's endpoint. */
function step(settings: Record<string, unknown> = {}, keys: Record<string, unknown> = { file: 'x.json' }) {
  const config: Config = configSchema.parse({
    issuers: {
      enterprise: { issuer: ENTERPRISE_ISS, role: 'identity-provider', keys, algorithms: ['ES256'] },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:9',
        audience: 'https://mail.example.test',
        issuers: ['enterprise'],
        introspection: {
          issuer: 'enterprise',
          endpoint: stub.endpoint,
          clientId: stub.client.id,
          clientSecret: stub.client.secret,
          timeoutSeconds: 0.5,
          ...settings,
        },
      },
    ],
  });
  const routes = compileRoutes(config, []);
  const stats = new IntrospectionStats();
  const introspection = new RouteIntrospection(config, routes, { clock: clock.now, stats });
  opened.push(introspection);
  return { introspector: introspection.forRoute(routes[0]!)!, counts: stats.of('mail') };
}

async function outcome(introspector: Introspector, claims: Record<string, unknown> = {}): Promise<string> {
  const token = await tokens.sign({ jti: `j-${Math.random()}`, ...claims });
  try {
    await introspector.check(tokens.verifier.verify(token), token);
    return 'ok';
  } catch (err) {
    if (err instanceof AuthFailure) return err.reason;
    throw err;
  }
}

describe('answers', () => {
  test('active: the request is RFC 7662 (form, token_type_hint, client_secret_basic)', async () => {
    const { introspector, counts } = step();
    const token = await tokens.sign({ jti: 'j-form' });
    await introspector.check(tokens.verifier.verify(token), token);
    const sent = stub.received.at(-1)!;
    assert.equal(sent.form.token, token);
    assert.equal(sent.form.token_type_hint, 'access_token');
    assert.match(sent.authorization!, /^Basic /);
    assert.equal(counts.active, 1);
  });

  test('inactive, and active for another subject, are token_inactive', async () => {
    const { introspector, counts } = step();
    stub.mode = 'inactive';
    assert.equal(await outcome(introspector), 'token_inactive');
    stub.mode = 'other-sub';
    assert.equal(await outcome(introspector), 'token_inactive');
    assert.equal(counts.inactive, 2);
  });

  test('private_key_jwt instead of a secret', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'ES256' });
    const { introspector } = step({ clientSecret: undefined, privateKeyJwt: { jwk } });
    assert.equal(await outcome(introspector), 'ok');
    assert.ok(stub.received.at(-1)!.form.client_assertion);
  });

  test('the endpoint from the issuer discovery document', async () => {
    const { introspector } = step({ endpoint: undefined }, { discovery: stub.discoveryUrl });
    const before = stub.stats.discovery;
    assert.equal(await outcome(introspector), 'ok');
    assert.equal(await outcome(introspector), 'ok');
    assert.equal(stub.stats.discovery, before + 1, 'discovered once');
  });
});

describe('cache and single flight, by the stub counter', () => {
  test('one request per token within cacheSeconds; another after it', async () => {
    const { introspector, counts } = step({ cacheSeconds: 30 });
    const token = await tokens.sign({ jti: 'j-cache' });
    const verified = tokens.verifier.verify(token);
    for (let i = 0; i < 5; i += 1) await introspector.check(verified, token);
    assert.equal(stub.perToken.get(token), 1);
    assert.equal(counts.cached, 4);
    clock.advanceSeconds(29);
    await introspector.check(verified, token);
    assert.equal(stub.perToken.get(token), 1);
    clock.advanceSeconds(1);
    await introspector.check(verified, token);
    assert.equal(stub.perToken.get(token), 2);
  });

  test('never cached beyond the token exp', async () => {
    const { introspector } = step({ cacheSeconds: 300 });
    // Signed a minute ago, expiring 10 s from now.
    const token = await tokens.sign({ jti: 'j-exp', exp: Math.floor(NOW_MS / 1000) + 10 });
    const verified = tokens.verifier.verify(token);
    await introspector.check(verified, token);
    clock.advanceSeconds(9);
    await introspector.check(verified, token);
    assert.equal(stub.perToken.get(token), 1);
    clock.advanceSeconds(1);
    // Past exp the cached answer is gone: asked again (and the answer's own exp says expired).
    await assert.rejects(introspector.check(verified, token), /token_inactive/);
    assert.equal(stub.perToken.get(token), 2, 'asked again once the token exp passed');
  });

  test('a cached inactive answer refuses without asking again', async () => {
    const { introspector } = step();
    stub.mode = 'inactive';
    const token = await tokens.sign({ jti: 'j-inactive' });
    const verified = tokens.verifier.verify(token);
    for (let i = 0; i < 3; i += 1)
      await assert.rejects(introspector.check(verified, token), /token_inactive/);
    assert.equal(stub.perToken.get(token), 1);
  });

  test('50 concurrent requests for one token: one request to the endpoint', async () => {
    const { introspector, counts } = step({ cacheSeconds: 0, timeoutSeconds: 2 });
    stub.mode = 'slow';
    stub.slowMs = 200;
    const token = await tokens.sign({ jti: 'j-flight' });
    const verified = tokens.verifier.verify(token);
    await Promise.all(Array.from({ length: 50 }, () => introspector.check(verified, token)));
    assert.equal(stub.perToken.get(token), 1);
    assert.equal(counts.requested, 1);
    assert.equal(counts.active, 50);
  });
});

describe('bounds', () => {
  test('at most maxConcurrent in flight at the endpoint; a full queue is unavailable at once', async () => {
    const { introspector, counts } = step({ cacheSeconds: 0, timeoutSeconds: 5, maxConcurrent: 2 });
    stub.mode = 'slow';
    stub.slowMs = 150;
    stub.stats.maxInFlight = 0;
    // 2 in flight and 16 waiting (8 per slot) fit; 2 more are refused without waiting.
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(introspector)));
    assert.ok(stub.stats.maxInFlight <= 2, `at most 2 in flight (saw ${stub.stats.maxInFlight})`);
    assert.equal(results.filter((r) => r === 'ok').length, 18);
    assert.equal(results.filter((r) => r === 'introspection_unavailable').length, 2);
    assert.equal(counts.refused, 2);
  });

  test('a 10 MB answer is refused past maxResponseBytes, unread', async () => {
    const { introspector } = step({ maxResponseBytes: 16 * 1024, timeoutSeconds: 5 });
    stub.mode = 'huge';
    const rss = process.memoryUsage().rss;
    assert.equal(await outcome(introspector), 'introspection_unavailable');
    assert.ok(process.memoryUsage().rss - rss < 8 * 1024 * 1024, 'the body was not buffered');
  });
});

describe('an endpoint that fails', () => {
  for (const mode of ['down', 'garbage', 'html', 'error', 'no-active', 'slow'] as const) {
    test(`${mode}: introspection_unavailable under fail-closed, the local verdict under serve-verified`, async () => {
      stub.mode = mode;
      stub.slowMs = 2000;
      const closed = step({ timeoutSeconds: 0.3 });
      assert.equal(await outcome(closed.introspector), 'introspection_unavailable');
      assert.equal(closed.counts.refused, 1);
      const open = step({ timeoutSeconds: 0.3, onUnavailable: 'serve-verified' });
      assert.equal(await outcome(open.introspector), 'ok');
      assert.equal(open.counts.servedVerified, 1);
    });
  }

  test('credentials the endpoint refuses (401) are unavailable, never a verdict on the token', async () => {
    const { introspector } = step({ clientSecret: 'wrong-secret' });
    assert.equal(await outcome(introspector), 'introspection_unavailable');
  });

  test('nothing listening at the endpoint', async () => {
    const { introspector } = step({ endpoint: 'http://127.0.0.1:9/introspect' });
    assert.equal(await outcome(introspector), 'introspection_unavailable');
  });
});
