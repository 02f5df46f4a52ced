// Routes that introspect (RFC 7662), end to end: the gateway asks the token's issuer (endpoint
// from its discovery document) only once every local check passed, caches per token, and
// answers 401 token_inactive or 503 introspection_unavailable as the route's fail mode says.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { stringify } from 'yaml';
import { type DevKeyPair, generateDevKey, jwksOf } from '../../src/demo/dev-keys.js';
import { startGateway } from '../../src/server.js';
import {
  AUDIENCE,
  enterpriseClaims,
  ISS,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IntrospectionStub, startIntrospectionStub } from '../helpers/introspection-stub.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let idp: IntrospectionStub;
let key: DevKeyPair;
let gw: TestGateway;
let config: Record<string, unknown>;
const env = { PROVGATE_INTROSPECTION_SECRET: '' };

const route = (name: string, prefix: string, extra: Record<string, unknown> = {}) => ({
  name,
  prefix,
  upstream: upstream.url,
  audience: AUDIENCE,
  issuers: ['enterprise'],
  ...extra,
});
const introspection = (extra: Record<string, unknown> = {}) => ({
  introspection: {
    issuer: 'enterprise',
    clientId: idp.client.id,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration's own ${VAR} syntax
    clientSecret: '${PROVGATE_INTROSPECTION_SECRET}',
    timeoutSeconds: 0.5,
    ...extra,
  },
});
const fresh = (extra: Record<string, unknown> = {}) =>
  sign(key, enterpriseClaims({ jti: randomUUID(), ...extra }));
const call = async (path: string, token: string) => {
  const res = await get(`${gw.url}${path}`, token);
  return { status: res.status, reason: res.body.reason, headers: res.headers };
};

before(async () => {
  [upstream, key] = await Promise.all([startUpstream(), generateDevKey('ES256', 'ent-live')]);
  idp = await startIntrospectionStub(ISS.enterprise, jwksOf([key]).keys);
  env.PROVGATE_INTROSPECTION_SECRET = idp.client.secret;
  const dir = tempDir();
  config = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { discovery: idp.discoveryUrl } } },
    routes: [
      route('mail', '/api/mail'),
      route('vault', '/api/vault', introspection()),
      route('reports', '/api/reports', introspection({ onUnavailable: 'serve-verified' })),
    ],
  });
  gw = await startTestGateway(config, { dir, env });
});
after(async () => {
  await gw?.close();
  await idp?.close();
  await upstream?.close();
});
beforeEach(() => {
  idp.mode = 'active';
});

test('an active token passes; the endpoint came from the discovery document and is asked once per token', async () => {
  const token = await fresh();
  for (let i = 0; i < 5; i += 1) assert.equal((await call('/api/vault/inbox', token)).status, 200);
  assert.equal(idp.perToken.get(token), 1, 'cached for cacheSeconds');
  assert.ok(idp.stats.discovery >= 1);
  assert.equal(idp.received.at(-1)!.form.token_type_hint, 'access_token');
  assert.equal((await call('/api/mail/inbox', await fresh())).status, 200);
  assert.equal(idp.stats.requests, 1, 'a route without introspection never asks');
});

test('the local checks come first: a token they refuse is never sent to the endpoint', async () => {
  const before = idp.stats.requests;
  const expired = await fresh({
    exp: Math.floor(Date.now() / 1000) - 600,
    iat: Math.floor(Date.now() / 1000) - 1200,
  });
  assert.equal((await call('/api/vault/x', expired)).reason, 'token_expired');
  const elsewhere = await fresh({ aud: 'https://other.example.test' });
  assert.equal((await call('/api/vault/x', elsewhere)).reason, 'audience_mismatch');
  assert.equal(idp.stats.requests, before);
});

test('inactive, or active for another subject: 401 token_inactive', async () => {
  idp.mode = 'inactive';
  const refused = await call('/api/vault/x', await fresh());
  assert.equal(refused.status, 401);
  assert.equal(refused.reason, 'token_inactive');
  assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  idp.mode = 'other-sub';
  assert.equal((await call('/api/vault/x', await fresh())).reason, 'token_inactive');
  const event = gw.logs.events('token_inactive').at(-1)!;
  assert.equal(event.severity, 'high');
  assert.equal(event.sub, 'alice');
  // Under serve-verified too: an answer that says no is a verdict, not an outage.
  assert.equal((await call('/api/reports/x', await fresh())).reason, 'token_inactive');
});

test('down, slow, garbage, HTML, 500 or 10 MB: 503 introspection_unavailable, or the local verdict under serve-verified', async () => {
  for (const mode of ['down', 'slow', 'garbage', 'html', 'error', 'huge'] as const) {
    idp.mode = mode;
    const refused = await call('/api/vault/x', await fresh());
    assert.equal(refused.status, 503, mode);
    assert.equal(refused.reason, 'introspection_unavailable', mode);
    assert.ok(refused.headers.get('retry-after'), mode);
    assert.equal((await call('/api/reports/x', await fresh())).status, 200, `${mode}: served verified`);
  }
  const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  assert.match(metrics, /provgate_introspection_total\{route="vault",outcome="unavailable_refused"\} 6/);
  assert.match(metrics, /provgate_introspection_total\{route="reports",outcome="unavailable_served"\} 6/);
  assert.match(metrics, /provgate_introspection_answers_total\{route="vault",source="cache"\} [1-9]/);
  assert.ok(gw.logs.lines.some((l) => l.event === 'introspection.unavailable'));
});

test('the client secret and the tokens never reach the log', async () => {
  assert.ok(gw.logs.lines.length > 0);
  assert.equal(gw.logs.text.includes(idp.client.secret), false);
  for (const { form } of idp.received) assert.equal(gw.logs.text.includes(form.token!), false);
});

test('a client secret written into the file instead of an environment reference is refused at start', async () => {
  const dir = tempDir();
  const literal = referenceConfig(dir, await keyRing(), {
    upstream: upstream.url,
    issuers: { enterprise: { keys: { discovery: idp.discoveryUrl } } },
    routes: [route('vault', '/api/vault', introspection({ clientSecret: 'written-in-the-file' }))],
  });
  writeFileSync(join(dir, 'gateway.yaml'), stringify(literal));
  await assert.rejects(
    startGateway(join(dir, 'gateway.yaml'), { env: {} }),
    (err: Error & { problems?: string[] }) => {
      const problems = err.problems ?? [];
      return (
        problems.some(
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the ${VAR} syntax
          (p) => p.startsWith('routes.0.introspection.clientSecret:') && p.includes('${VARIABLE}'),
        ) && !problems.join('\n').includes('written-in-the-file')
      );
    },
  );
});
