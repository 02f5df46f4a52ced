// No token ever reaches the log: valid and refused requests, at the most verbose level with
// access logging on, then the captured text is searched for every token and its signature.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  AUDIENCE,
  enterpriseClaims,
  ISS,
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get, rawRequest } from '../helpers/http.js';
import { freePort } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let gw: TestGateway;
let ring: KeyRing;

/** Every token sent in this file, valid or not. */
const sent: string[] = [];

interface Case {
  readonly name: string;
  readonly path: string;
  readonly token: string;
  readonly reason: string;
  /** What the event must say about the token (besides the fingerprint). */
  readonly facts: Record<string, unknown>;
}
const cases: Case[] = [];
let dupPath = '';

const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  const dir = tempDir();
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { log: { level: 'trace', access: true } },
  });
  (config.routes as unknown[]).push({
    name: 'dead',
    prefix: '/api/dead',
    upstream: `http://127.0.0.1:${await freePort()}`,
    audience: AUDIENCE,
    issuers: ['enterprise'],
  });
  gw = await startTestGateway(config, { dir });

  const now = Math.floor(Date.now() / 1000);
  const valid = await sign(ring.enterprise, enterpriseClaims());
  const [vh, vp, vs] = valid.split('.') as [string, string, string];
  const entFacts = { claimedIssuer: ISS.enterprise, sub: 'alice' };
  const refusals: Array<Omit<Case, 'path'>> = [
    {
      name: 'forged with the consumer key',
      token: await sign(ring.consumer, enterpriseClaims()),
      reason: 'key_issuer_mismatch',
      facts: {
        ...entFacts,
        kid: 'msa-2016',
        keyIssuer: 'consumer',
        severity: 'critical',
        signatureValid: true,
      },
    },
    {
      name: 'copied kid, stray key',
      token: await sign(ring.stray, enterpriseClaims(), { header: { kid: 'msa-2016' } }),
      reason: 'key_issuer_mismatch',
      facts: { ...entFacts, kid: 'msa-2016', severity: 'high', signatureValid: false },
    },
    {
      name: 'bad signature',
      token: await sign(ring.stray, enterpriseClaims(), { header: { kid: 'ent-2024' } }),
      reason: 'bad_signature',
      facts: { ...entFacts, kid: 'ent-2024', severity: 'high' },
    },
    {
      name: 'expired',
      token: await sign(ring.enterprise, enterpriseClaims({ iat: now - 7200, exp: now - 3600 })),
      reason: 'token_expired',
      facts: { ...entFacts, kid: 'ent-2024', severity: 'low' },
    },
    {
      name: 'unsigned',
      token: `${part({ alg: 'none', kid: 'ent-2024' })}.${vp}.`,
      reason: 'alg_not_allowed',
      facts: { ...entFacts, kid: 'ent-2024', alg: 'none', severity: 'critical' },
    },
    {
      name: 'key in the header',
      token: await sign(ring.stray, enterpriseClaims(), {
        header: { kid: 'ent-2024', jwk: ring.stray.publicJwk },
      }),
      reason: 'forbidden_header',
      facts: { ...entFacts, kid: 'ent-2024', severity: 'critical' },
    },
    {
      name: 'unknown issuer',
      token: await sign(ring.stray, { ...enterpriseClaims(), iss: 'https://evil.example.test/' }),
      reason: 'unknown_issuer',
      facts: { claimedIssuer: 'https://evil.example.test/', kid: 'stray-1', sub: 'alice' },
    },
    {
      name: 'not enough scope',
      token: await sign(ring.enterprise, enterpriseClaims({ scp: 'Mail.Send' })),
      reason: 'insufficient_scope',
      facts: { ...entFacts, kid: 'ent-2024', severity: 'low' },
    },
    {
      name: 'padded signature',
      token: `${vh}.${vp}.${vs}=`,
      reason: 'malformed_token',
      facts: { severity: 'low' },
    },
  ];

  // A valid token, sent the proper way and also (wrongly) in the query string.
  sent.push(valid);
  assert.equal((await get(`${gw.url}/api/mail/inbox?top=1`, valid)).status, 200);
  assert.equal((await get(`${gw.url}/api/mail/inbox?access_token=${valid}`, valid)).status, 200);
  assert.equal((await get(`${gw.url}/api/token/exchange`, valid, { method: 'POST', body: 'x' })).status, 200);
  // The upstream fails: the error path logs too.
  assert.equal((await get(`${gw.url}/api/dead/x`, valid)).status, 502);

  let n = 0;
  for (const c of refusals) {
    const path = `/api/mail/redaction-${++n}`;
    sent.push(c.token);
    const res = await get(`${gw.url}${path}?access_token=${c.token}`, c.token);
    assert.equal(res.body.reason, c.reason, c.name);
    cases.push({ ...c, path });
  }
  // Two Authorization headers, one of them valid; and a token on a path no route serves.
  dupPath = `/api/mail/redaction-${++n}`;
  const dup = await rawRequest(gw.url, dupPath, [
    `Authorization: Bearer ${valid}`,
    `Authorization: Bearer ${valid}x`,
  ]);
  assert.equal(dup.body.reason, 'malformed_token');
  sent.push(`${valid}x`);
  const lost = await sign(ring.enterprise, enterpriseClaims());
  sent.push(lost);
  assert.equal((await get(`${gw.url}/nowhere`, lost)).status, 404);
  // A token in the path, with none in the header: refused, and the event names the path without it.
  const inPath = await sign(ring.enterprise, enterpriseClaims());
  sent.push(inPath);
  assert.equal((await get(`${gw.url}/api/mail/${inPath}`)).status, 401);
});

after(async () => {
  await gw.close();
  await upstream.close();
});

test('the log is verbose enough for the test to mean something', () => {
  assert.ok(gw.logs.lines.length > 20, `${gw.logs.lines.length} log lines`);
  assert.ok(
    gw.logs.lines.some((l) => l.msg === 'incoming request'),
    'access logging is on',
  );
  assert.ok(gw.logs.lines.some((l) => l.event === 'upstream.error'));
});

test('no raw token and no signature part anywhere in the log', () => {
  const text = gw.logs.text;
  for (const token of sent) {
    assert.equal(text.includes(token), false, `token ${fingerprint(token)} is in the log`);
    const signature = token.slice(token.lastIndexOf('.') + 1);
    if (signature.length >= 16)
      assert.equal(text.includes(signature), false, `signature of ${fingerprint(token)} is in the log`);
  }
  assert.equal(
    /authorization/i.test(text) && /Bearer ey/.test(text),
    false,
    'an Authorization value is logged',
  );
});

test('the access log keeps the URL but not a token put in its query string', () => {
  const urls = gw.logs.lines
    .filter((l) => l.msg === 'incoming request')
    .map((l) => String((l.req as { url?: string }).url));
  assert.ok(urls.includes('/api/mail/inbox?top=1'), 'an ordinary query string is logged as it is');
  assert.ok(urls.includes('/api/mail/inbox?access_token=[redacted]'), urls.join('\n'));
});

test('each refusal writes one event that names the token without containing it', () => {
  for (const c of cases) {
    const events = gw.logs.events().filter((e) => e.path === c.path);
    assert.equal(events.length, 1, c.name);
    const event = events[0]!;
    assert.equal(event.event, 'auth.refused');
    assert.equal(event.reason, c.reason, c.name);
    assert.ok(['critical', 'high', 'low'].includes(String(event.severity)), c.name);
    assert.equal(event.route, 'mail', c.name);
    assert.equal(event.ip, '127.0.0.1', c.name);
    assert.equal(event.tokenFingerprint, fingerprint(c.token), c.name);
    assert.match(String(event.tokenFingerprint), /^[0-9a-f]{16}$/);
    for (const [field, value] of Object.entries(c.facts))
      assert.deepEqual(event[field], value, `${c.name}: ${field}`);
  }
});

test('the refusal of two Authorization headers and of an unrouted path are events too', () => {
  const dup = gw.logs.events('malformed_token').find((e) => e.path === dupPath);
  assert.ok(dup);
  const lost = gw.logs.events('no_route').at(-1)!;
  assert.equal(lost.path, '/nowhere');
  assert.equal(lost.route, undefined);
  assert.equal(lost.ip, '127.0.0.1');
  const inPath = gw.logs.events('missing_token').find((e) => String(e.path).startsWith('/api/mail/'));
  assert.equal(inPath?.path, '/api/mail/[redacted]');
});
