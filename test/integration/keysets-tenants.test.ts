import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import { TestClock } from '../helpers/clock.js';
import {
  AUDIENCE,
  enterpriseClaims,
  ISS,
  type KeyRing,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { ecKeyRing, ecReferenceConfig, signAt } from '../helpers/keysets-fixture.js';
import { readiness } from '../helpers/readiness.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TEMPLATE = 'https://login.example.test/{tenantid}/v2.0';
const tenantIss = (tenant: string) => `https://login.example.test/${tenant}/v2.0`;
const clock = new TestClock();
let ring: KeyRing;
let tenantKey: DevKeyPair;
let upstream: Upstream;
let idp: IdpStub;
let gw: TestGateway;

function configFor(dir: string, multi: Record<string, unknown>): Record<string, unknown> {
  const config = ecReferenceConfig(dir, ring, {
    upstream: upstream.url,
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: upstream.url,
        audience: AUDIENCE,
        issuers: ['enterprise', 'consumer', 'multi'],
      },
    ],
  });
  (config.issuers as Record<string, unknown>).multi = {
    issuer: TEMPLATE,
    role: 'identity-provider',
    algorithms: ['ES256'],
    ...multi,
  };
  return config;
}

before(async () => {
  ring = await ecKeyRing();
  tenantKey = await generateDevKey('ES256', 'tenant-key-1');
  upstream = await startUpstream();
  // A multi-tenant provider's discovery document names the template, as Microsoft's does.
  idp = await startIdpStub(TEMPLATE, [tenantKey.publicJwk]);
  const dir = tempDir();
  const config = configFor(dir, { keys: { discovery: idp.discoveryUrl }, tenants: ['t-1', 't-2'] });
  gw = await startTestGateway(config, { dir, clock: clock.now });
});

after(async () => {
  await gw.close();
  await idp.close();
  await upstream.close();
});

async function call(key: DevKeyPair, iss: string, tid: string | undefined) {
  const token = await signAt(key, { ...enterpriseClaims(), iss, tid }, clock);
  return get(`${gw.url}/api/mail/messages`, token);
}

test('a templated issuer accepts any allowed tenant whose tid matches the tenant in iss', async () => {
  assert.equal((await readiness(gw)).body.keys?.multi?.loaded, true);
  const res = await call(tenantKey, tenantIss('t-1'), 't-1');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.headers['x-auth-issuer'], 'multi');
  assert.equal(seen.headers['x-auth-tenant'], 't-1');
  assert.equal((await call(tenantKey, tenantIss('t-2'), 't-2')).status, 200);
});

test('tid naming another tenant than iss is tenant_mismatch; a tenant off the list is tenant_not_allowed', async () => {
  assert.equal((await call(tenantKey, tenantIss('t-1'), 't-2')).body.reason, 'tenant_mismatch');
  assert.equal((await call(tenantKey, tenantIss('t-3'), 't-3')).body.reason, 'tenant_not_allowed');
  assert.equal((await call(tenantKey, tenantIss('t-3'), 't-1')).body.reason, 'tenant_mismatch');
});

test('the template key set is bound to the template issuer: an exact issuer wins and its keys stay apart', async () => {
  // `enterprise` is also a segment the template would match: the exact issuer is tried first.
  const asEnterprise = await call(tenantKey, ISS.enterprise, 'enterprise');
  assert.equal(asEnterprise.body.reason, 'key_issuer_mismatch');
  assert.equal(gw.logs.events('key_issuer_mismatch').at(-1)?.keyIssuer, 'multi');
  const enterpriseAsTenant = await call(ring.enterpriseEs, tenantIss('t-1'), 't-1');
  assert.equal(enterpriseAsTenant.body.reason, 'key_issuer_mismatch');
  assert.equal(gw.logs.events('key_issuer_mismatch').at(-1)?.keyIssuer, 'enterprise');
});

test('only one plain path segment is a tenant', async () => {
  for (const iss of [
    TEMPLATE,
    'https://login.example.test//v2.0',
    'https://login.example.test/t-1/x/v2.0',
    'https://login.example.test/t-1/v2.0/',
    'https://login.example.test/t%2F1/v2.0',
    'https://login.example.test.evil.test/t-1/v2.0',
    'http://login.example.test/t-1/v2.0',
  ]) {
    assert.equal((await call(tenantKey, iss, 't-1')).body.reason, 'unknown_issuer', iss);
  }
});

test('a template whose placeholder is not a whole path segment does not load', async () => {
  for (const issuer of [
    'https://login.example.test/x{tenantid}/v2.0',
    'https://{tenantid}.example.test/v2.0',
    'https://login.example.test/{tenantid}/{tenantid}',
    'https://login.example.test/{tenant}/v2.0',
  ]) {
    const dir = tempDir();
    const config = configFor(dir, { issuer, keys: { url: idp.jwksUrl } });
    await assert.rejects(startTestGateway(config, { dir }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(
        err.problems.some((p) => p.startsWith('issuers.multi.issuer: ')),
        `${issuer}: ${err.problems.join('\n')}`,
      );
      return true;
    });
  }
});
