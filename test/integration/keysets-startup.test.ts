import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { TestClock } from '../helpers/clock.js';
import {
  enterpriseClaims,
  ISS,
  type KeyRing,
  startTestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { ecKeyRing, ecReferenceConfig, logEvents, signAt } from '../helpers/keysets-fixture.js';
import { readiness } from '../helpers/readiness.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let upstream: Upstream;
let idp: IdpStub;

before(async () => {
  ring = await ecKeyRing();
  upstream = await startUpstream();
  idp = await startIdpStub(ISS.enterprise, [ring.enterpriseEs.publicJwk]);
});

after(async () => {
  await idp.close();
  await upstream.close();
});

function configWith(enterpriseKeys: Record<string, unknown>) {
  const dir = tempDir();
  return {
    dir,
    config: ecReferenceConfig(dir, ring, {
      upstream: upstream.url,
      issuers: { enterprise: { keys: enterpriseKeys } },
    }),
  };
}

test('discovery: keys come from the jwks_uri of a document that names the configured issuer', async () => {
  idp.issuer = ISS.enterprise;
  const clock = new TestClock();
  const { dir, config } = configWith({ discovery: idp.discoveryUrl });
  const gw = await startTestGateway(config, { dir, clock: clock.now });
  try {
    const res = await get(
      `${gw.url}/api/mail/messages`,
      await signAt(ring.enterpriseEs, enterpriseClaims(), clock),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const ready = await readiness(gw);
    assert.equal(
      ready.body.keys?.enterprise?.source,
      `discovery ${idp.discoveryUrl} (jwks_uri ${idp.jwksUrl})`,
    );
  } finally {
    await gw.close();
  }
});

test('discovery: a document naming another issuer is a load error', async () => {
  idp.issuer = ISS.consumer;
  const { dir, config } = configWith({ discovery: idp.discoveryUrl });
  await assert.rejects(startTestGateway(config, { dir }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 1);
    assert.match(
      err.problems[0]!,
      /^issuers\.enterprise\.keys\.discovery: .*names issuer "https:\/\/login\.example\.test\/consumer\/v2\.0", not the configured https:\/\/login\.example\.test\/enterprise\/v2\.0/,
    );
    return true;
  });
  idp.issuer = ISS.enterprise;
});

test('an IdP that never answers: startup is bounded, not ready, its tokens get 503 keys_unavailable', async () => {
  idp.mode = 'slow';
  idp.slowMs = 3000;
  const clock = new TestClock();
  const { dir, config } = configWith({ url: idp.jwksUrl, timeoutSeconds: 0.3, cooldownSeconds: 10 });
  const started = Date.now();
  const gw = await startTestGateway(config, { dir, clock: clock.now });
  try {
    assert.ok(Date.now() - started < 2000, `startup took ${Date.now() - started} ms`);
    const ready = await readiness(gw);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'not_ready');
    assert.ok(ready.body.problems?.some((p) => p.startsWith('issuer enterprise: key set never loaded')));
    assert.equal(ready.body.keys?.enterprise?.loaded, false);
    assert.ok(
      logEvents(gw, 'config.warning').some((l) =>
        /issuers\.enterprise\.keys\.url: key set not loaded/.test(String(l.msg)),
      ),
    );

    idp.mode = 'down';
    const token = await signAt(ring.enterpriseEs, enterpriseClaims(), clock);
    const refused = await get(`${gw.url}/api/mail/messages`, token);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { error: 'unavailable', reason: 'keys_unavailable' });
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    // The other issuers, whose sets loaded, are served as usual.
    const consumer = await signAt(ring.consumer, { ...enterpriseClaims(), iss: ISS.consumer }, clock);
    assert.equal((await get(`${gw.url}/api/mail/messages`, consumer)).status, 200);

    // The IdP comes back: once the cooldown allows, the next request loads the set and passes.
    idp.mode = 'ok';
    clock.advanceSeconds(10);
    const res = await get(`${gw.url}/api/mail/messages`, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await readiness(gw)).body.status, 'ready');
  } finally {
    idp.mode = 'ok';
    await gw.close();
  }
});

test('shared: true needs a url; remote options do not apply to a file', async () => {
  for (const [keys, message] of [
    [
      { discovery: 'https://idp.example.test/.well-known/openid-configuration', shared: true },
      /keys\.shared: allowed only with url/,
    ],
    [
      { file: 'enterprise.jwks.json', refreshSeconds: 60 },
      /keys\.refreshSeconds: applies only to url or discovery/,
    ],
    [
      { file: 'enterprise.jwks.json', url: 'https://idp.example.test/keys' },
      /keys: exactly one of file, url or discovery/,
    ],
    [{ url: 'http://idp.example.test/keys' }, /keys\.url: must be https/],
  ] as const) {
    const { dir, config } = configWith(keys);
    await assert.rejects(startTestGateway(config, { dir }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(
        err.problems.some((p) => p.startsWith('issuers.enterprise.') && message.test(p)),
        err.problems.join('\n'),
      );
      return true;
    });
  }
});
