// Every reason code of issue 2, reached over real HTTP through the gateway to a real upstream:
// status, WWW-Authenticate, body, the security event, and that the upstream never saw the request.
import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  type JsonWebKey,
  randomUUID,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { type DevKeyPair, generateDevKey, jwksOf } from '../../src/demo/dev-keys.js';
import { REASONS, type Reason, type Severity } from '../../src/verify/reasons.js';
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

const ROUTE_BY_PREFIX: Record<string, string> = {
  '/api/mail': 'mail',
  '/api/token': 'token',
  '/api/resource': 'resource',
  '/api/delegated': 'delegated',
  '/api/notoken': 'notoken',
  '/api/v2/mail': 'rewrite',
  '/api/lab': 'lab',
  '/api/slow': 'slow',
  '/api/dead': 'dead',
};
const LAB_ISS = 'https://legacy.example.test/';
const TYPED_ISS = 'https://typed.example.test/';
const RETIRED_ISS = 'https://retired.example.test/';

let upstream: Upstream;
let gw: TestGateway;
let ring: KeyRing;
let typed: DevKeyPair;
let legacyOld: DevKeyPair;
let legacyNew: DevKeyPair;
let retired: DevKeyPair;

const nowS = () => Math.floor(Date.now() / 1000);
const isoAt = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  const closedPort = await freePort();
  typed = await generateDevKey('ES256', 'typed-1');
  legacyOld = await generateDevKey('ES256', 'legacy-2016');
  legacyNew = await generateDevKey('ES256', 'legacy-2024');
  retired = await generateDevKey('ES256', 'retired-1');
  const dir = tempDir();
  writeFileSync(join(dir, 'typed.jwks.json'), JSON.stringify(jwksOf([typed])));
  writeFileSync(join(dir, 'legacy.jwks.json'), JSON.stringify(jwksOf([legacyOld, legacyNew])));
  writeFileSync(join(dir, 'retired.jwks.json'), JSON.stringify(jwksOf([retired])));
  const route = (name: string, prefix: string, issuers: string[], extra: object = {}) => ({
    name,
    prefix,
    upstream: upstream.url,
    audience: AUDIENCE,
    issuers,
    ...extra,
  });
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    issuers: { enterprise: { tenants: ['tid-a', 'tid-b'], maxTokenLifetimeSeconds: 86_400 } },
    routes: [
      route('mail', '/api/mail', ['enterprise', 'consumer', 'typed'], { scopes: ['Mail.Read'] }),
      route('token', '/api/token', ['enterprise', 'consumer'], { mintsTokens: true }),
      route('resource', '/api/resource', ['enterprise', 'owa']),
      route('delegated', '/api/delegated', ['enterprise'], { allowDelegation: true }),
      route('notoken', '/api/notoken', ['enterprise'], { forwardToken: false }),
      route('rewrite', '/api/v2/mail', ['enterprise'], { rewritePrefix: '/mail/v2' }),
      route('lab', '/api/lab', ['legacy', 'retired']),
      route('slow', '/api/slow', ['enterprise'], { timeoutSeconds: 0.2 }),
      { ...route('dead', '/api/dead', ['enterprise']), upstream: `http://127.0.0.1:${closedPort}` },
    ],
    extra: {
      revocations: {
        keys: [{ issuer: 'retired', kid: 'retired-1', reason: 'stolen' }],
        tokens: [{ issuer: 'enterprise', jti: 'jti-leaked-in-a-ticket' }],
        subjects: [
          { issuer: 'consumer', sub: 'dave', before: '2023-07-03T00:00:00Z' },
          { issuer: 'enterprise', sub: 'carol', before: isoAt(Date.now() + 86_400_000) },
        ],
      },
    },
  });
  Object.assign(config.issuers as Record<string, unknown>, {
    typed: {
      issuer: TYPED_ISS,
      role: 'identity-provider',
      keys: { file: 'typed.jwks.json' },
      algorithms: ['ES256'],
      requireTyp: 'at+jwt',
    },
    legacy: {
      issuer: LAB_ISS,
      role: 'identity-provider',
      keys: { file: 'legacy.jwks.json' },
      algorithms: ['ES256'],
      keyValidity: {
        'legacy-2016': { notBefore: '2016-04-01T00:00:00Z', notAfter: '2021-04-01T00:00:00Z' },
        'legacy-2024': { notBefore: '2024-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z' },
      },
    },
    retired: {
      issuer: RETIRED_ISS,
      role: 'identity-provider',
      keys: { file: 'retired.jwks.json' },
      algorithms: ['ES256'],
    },
  });
  gw = await startTestGateway(config, { dir });
});

after(async () => {
  await gw.close();
  await upstream.close();
});

// ---- tokens -------------------------------------------------------------------------------

const part = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Claims of a current, valid enterprise token for the mail API. */
function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowS();
  return { ...enterpriseClaims(), iat: now, exp: now + 3600, jti: randomUUID(), ...extra };
}

/** Signs any header and payload with node:crypto, for what jose refuses to produce (crit, RS384 on an RS256 key...). */
function signRaw(key: DevKeyPair, header: Record<string, unknown>, payload: unknown): string {
  const input = `${part(header)}.${part(payload)}`;
  const alg = String(header.alg);
  const privateKey = createPrivateKey({ key: key.privateJwk as JsonWebKey, format: 'jwk' });
  const hash = alg.endsWith('384') ? 'sha384' : 'sha256';
  const signature = alg.startsWith('ES')
    ? cryptoSign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
    : cryptoSign(hash, Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

const entToken = (extra: JWTPayload = {}) => sign(ring.enterprise, enterpriseClaims(extra));

// ---- requests and assertions --------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly wwwAuthenticate: string | undefined;
  readonly body: Record<string, unknown>;
}

let caseNumber = 0;
/** A fresh path under `prefix`, so that the upstream's log and the event can be matched to this case. */
const casePath = (prefix: string) => `${prefix}/case-${++caseNumber}`;

async function send(
  path: string,
  authorization?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const all = { ...headers, ...(authorization === undefined ? {} : { authorization }) };
  const res = await get(`${gw.url}${path}`, undefined, { headers: all });
  return {
    status: res.status,
    wwwAuthenticate: res.headers.get('www-authenticate') ?? undefined,
    body: res.body,
  };
}

async function sendRaw(path: string, headerLines: string[]): Promise<Reply> {
  const res = await rawRequest(gw.url, path, headerLines);
  const www = res.headers['www-authenticate'];
  return { status: res.status, wwwAuthenticate: www?.join(', '), body: res.body };
}

const reachedUpstream = (path: string) => upstream.received.some((r) => r.url.split('?')[0] === path);

function expectedChallenge(reason: Reason): string | undefined {
  if (reason === 'missing_token') return 'Bearer realm="provgate"';
  const { error } = REASONS[reason];
  if (error === 'invalid_token' || error === 'insufficient_scope')
    return `Bearer error="${error}", error_description="${reason}"`;
  return undefined;
}

/** The refusal as the client sees it, that the upstream never saw it, and its one security event. */
function assertRefused(
  reply: Reply,
  path: string,
  reason: Reason,
  expect: { severity?: Severity } = {},
): Record<string, unknown> {
  const spec = REASONS[reason];
  assert.equal(reply.status, spec.status, `${reason} at ${path}: got ${JSON.stringify(reply.body)}`);
  assert.deepEqual(reply.body, { error: spec.error, reason });
  assert.equal(reply.wwwAuthenticate, expectedChallenge(reason));
  assert.equal(reachedUpstream(path), false, `the upstream received ${path}`);
  const events = gw.logs.events().filter((e) => e.path === path);
  assert.equal(events.length, 1, `one security event for ${path}`);
  const event = events[0]!;
  assert.equal(event.reason, reason);
  assert.equal(event.status, spec.status);
  const prefix = Object.keys(ROUTE_BY_PREFIX).find((p) => path.startsWith(`${p}/`));
  assert.equal(event.route, prefix === undefined ? undefined : ROUTE_BY_PREFIX[prefix]);
  if (expect.severity !== undefined) assert.equal(event.severity, expect.severity, `severity of ${reason}`);
  return event;
}

/** Sends `authorization` to a fresh path under `prefix` and checks the refusal. */
async function refused(
  reason: Reason,
  authorization: string | undefined,
  options: { prefix?: string; severity?: Severity; headers?: Record<string, string> } = {},
): Promise<Record<string, unknown>> {
  const path = casePath(options.prefix ?? '/api/mail');
  const reply = await send(path, authorization, options.headers);
  return assertRefused(reply, path, reason, options);
}

async function accepted(prefix: string, authorization: string): Promise<Record<string, unknown>> {
  const path = casePath(prefix);
  const reply = await send(path, authorization);
  assert.equal(reply.status, 200, `expected ${path} to pass: ${JSON.stringify(reply.body)}`);
  assert.equal(reachedUpstream(path), true);
  return reply.body;
}

const bearer = (token: string) => `Bearer ${token}`;

// ---- the reason codes ---------------------------------------------------------------------

describe('bearer: the credentials', () => {
  test('a valid token passes (the control for everything below)', async () => {
    await accepted('/api/mail', bearer(await entToken()));
  });

  test('missing_token: no Authorization header', async () => {
    const event = await refused('missing_token', undefined, { severity: 'low' });
    assert.equal(event.tokenFingerprint, undefined);
  });

  test('missing_token: another scheme', async () => {
    await refused('missing_token', 'Basic YWxpY2U6c2VjcmV0');
    await refused('missing_token', `Token ${await entToken()}`);
  });

  test('missing_token: a token in the query string is not looked at', async () => {
    const token = await entToken();
    const path = casePath('/api/mail');
    const reply = await send(`${path}?access_token=${token}`);
    assertRefused(reply, path, 'missing_token');
  });

  test('the Bearer scheme is matched case-insensitively', async () => {
    const token = await entToken();
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) await accepted('/api/mail', `${scheme} ${token}`);
  });

  test('malformed_token: two Authorization headers (raw request, fetch would merge them)', async () => {
    const token = await entToken();
    for (const second of [`Bearer ${token}`, 'Basic YWxpY2U6c2VjcmV0', 'Bearer x.y.z']) {
      const path = casePath('/api/mail');
      const reply = await sendRaw(path, [`Authorization: Bearer ${token}`, `authorization: ${second}`]);
      assertRefused(reply, path, 'malformed_token');
    }
  });

  test('malformed_token: an empty token', async () => {
    await refused('malformed_token', 'Bearer ');
    const path = casePath('/api/mail');
    assertRefused(await sendRaw(path, ['Authorization: Bearer    ']), path, 'malformed_token');
  });

  test('malformed_token: more than 16 KiB, even validly signed', async () => {
    await refused('malformed_token', `Bearer ${'a'.repeat(16 * 1024 + 1)}`);
    const big = await entToken({ padding: 'x'.repeat(13 * 1024) });
    assert.ok(big.length > 16 * 1024, `token of ${big.length} bytes`);
    await refused('malformed_token', bearer(big));
  });

  test('malformed_token: not three parts', async () => {
    const [h, p, s] = (await entToken()).split('.');
    await refused('malformed_token', bearer(`${h}.${p}`));
    await refused('malformed_token', bearer(`${h}.${p}.${s}.${s}`));
    await refused('malformed_token', bearer('justonepart'));
  });

  test('malformed_token: padding, the + / alphabet, a non-canonical last character', async () => {
    const token = await entToken();
    const [h, p, s] = token.split('.') as [string, string, string];
    await refused('malformed_token', bearer(`${h}.${p}.${s}=`));
    await refused('malformed_token', bearer(`${h}=.${p}.${s}`));
    const standard = Buffer.from(s, 'base64url').toString('base64').replace(/=+$/, '');
    assert.match(standard, /[+/]/, 'the signature needs a 62nd or 63rd character for this case');
    await refused('malformed_token', bearer(`${h}.${p}.${standard}`));
    // A 256-byte signature is 342 characters; the last carries 4 unused bits. Setting one
    // decodes to the same bytes in a lenient decoder, so it must not verify: it is refused first.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const lenient = `${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    assert.deepEqual(Buffer.from(lenient, 'base64url'), Buffer.from(s, 'base64url'));
    await refused('malformed_token', bearer(`${h}.${p}.${lenient}`));
  });

  test('malformed_token: header or payload not a JSON object', async () => {
    const [h, p, s] = (await entToken()).split('.');
    await refused('malformed_token', bearer(`${part('[{"alg":"RS256"}]')}.${p}.${s}`));
    await refused('malformed_token', bearer(`${part('not json')}.${p}.${s}`));
    await refused('malformed_token', bearer(`${h}.${part([claims()])}.${s}`));
    await refused('malformed_token', bearer(`${h}.${part('"a string"')}.${s}`));
  });

  test('malformed_token: registered claims of the wrong JSON type, even validly signed', async () => {
    const header = { alg: 'RS256', kid: 'ent-2024', typ: 'JWT' };
    await refused(
      'malformed_token',
      bearer(signRaw(ring.enterprise, header, claims({ exp: String(nowS() + 60) }))),
    );
    await refused('malformed_token', bearer(signRaw(ring.enterprise, header, claims({ aud: 42 }))));
    await refused(
      'malformed_token',
      bearer(signRaw(ring.enterprise, header, claims({ iss: [ISS.enterprise] }))),
    );
  });
});

describe('verification: header, issuer, algorithm, type', () => {
  const entHeader = { alg: 'RS256', kid: 'ent-2024', typ: 'JWT' };

  test('forbidden_header: jku, x5u, jwk, x5c or crit, even when the signature is valid', async () => {
    const members: Record<string, unknown> = {
      jku: 'https://evil.example.test/jwks.json',
      x5u: 'https://evil.example.test/cert.pem',
      jwk: ring.stray.publicJwk,
      x5c: ['MIIBszCCAVmgAwIBAgIUQ'],
      crit: ['exp'],
    };
    for (const [member, value] of Object.entries(members)) {
      const token = signRaw(ring.enterprise, { ...entHeader, [member]: value }, claims());
      const event = await refused('forbidden_header', bearer(token), { severity: 'critical' });
      assert.match(String(event.note), new RegExp(member));
    }
  });

  test('unknown_issuer: no iss, or an iss no issuer has', async () => {
    const noIss = claims();
    delete noIss.iss;
    await refused('unknown_issuer', bearer(signRaw(ring.enterprise, entHeader, noIss)));
    const event = await refused(
      'unknown_issuer',
      bearer(signRaw(ring.enterprise, entHeader, claims({ iss: 'https://login.evil.test/' }))),
    );
    assert.equal(event.claimedIssuer, 'https://login.evil.test/');
  });

  test('alg_not_allowed: HS256 signed with the public key (critical)', async () => {
    // The classic confusion: the verifier's public key used as the HMAC secret.
    const pem = createPublicKey({ key: ring.enterprise.publicJwk as JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const input = `${part({ alg: 'HS256', kid: 'ent-2024', typ: 'JWT' })}.${part(claims())}`;
    const mac = createHmac('sha256', pem).update(input).digest('base64url');
    const event = await refused('alg_not_allowed', bearer(`${input}.${mac}`), { severity: 'critical' });
    assert.equal(event.alg, 'HS256');
  });

  test('alg_not_allowed: alg none with an empty signature (critical)', async () => {
    const token = `${part({ alg: 'none', typ: 'JWT' })}.${part(claims())}.`;
    const event = await refused('alg_not_allowed', bearer(token), { severity: 'critical' });
    assert.equal(event.alg, 'none');
  });

  test('alg_not_allowed: RS384 is not on the issuer list (high)', async () => {
    const token = signRaw(ring.enterprise, { ...entHeader, alg: 'RS384' }, claims());
    await refused('alg_not_allowed', bearer(token), { severity: 'high' });
  });

  test("alg_not_allowed: an ES256 header naming an RSA key's kid (high)", async () => {
    const token = signRaw(ring.enterpriseEs, { alg: 'ES256', kid: 'ent-2024', typ: 'JWT' }, claims());
    const event = await refused('alg_not_allowed', bearer(token), { severity: 'high' });
    assert.equal(event.kid, 'ent-2024');
  });

  test('wrong_token_type: an issuer with requireTyp at+jwt', async () => {
    const typedClaims = () => claims({ iss: TYPED_ISS, tid: undefined });
    await refused(
      'wrong_token_type',
      bearer(signRaw(typed, { alg: 'ES256', kid: 'typed-1', typ: 'JWT' }, typedClaims())),
    );
    await refused(
      'wrong_token_type',
      bearer(signRaw(typed, { alg: 'ES256', kid: 'typed-1' }, typedClaims())),
    );
    await accepted(
      '/api/mail',
      bearer(signRaw(typed, { alg: 'ES256', kid: 'typed-1', typ: 'at+jwt' }, typedClaims())),
    );
    await accepted(
      '/api/mail',
      bearer(signRaw(typed, { alg: 'ES256', kid: 'typed-1', typ: 'application/at+JWT' }, typedClaims())),
    );
  });
});

describe('verification: the key, in the named issuer set only', () => {
  test('unknown_key: a kid in no set', async () => {
    const token = signRaw(ring.enterprise, { alg: 'RS256', kid: 'ent-1999' }, claims());
    const event = await refused('unknown_key', bearer(token), { severity: 'low' });
    assert.equal(event.kid, 'ent-1999');
    assert.equal(event.claimedIssuer, ISS.enterprise);
  });

  test('a token without kid uses the one key of the set that fits its alg; none or two: unknown_key', async () => {
    await accepted('/api/mail', bearer(signRaw(ring.enterprise, { alg: 'RS256' }, claims())));
    // The legacy issuer has two ES256 keys: which one is meant cannot be known.
    const lab = claims({ iss: LAB_ISS, tid: undefined });
    await refused('unknown_key', bearer(signRaw(legacyNew, { alg: 'ES256' }, lab)), { prefix: '/api/lab' });
  });

  test('key_issuer_mismatch: the consumer key signs a token claiming the enterprise issuer (FORGERY CONFIRMED)', async () => {
    const token = await sign(ring.consumer, enterpriseClaims());
    const event = await refused('key_issuer_mismatch', bearer(token), { severity: 'critical' });
    assert.equal(event.signatureValid, true);
    assert.equal(event.claimedIssuer, ISS.enterprise);
    assert.equal(event.keyIssuer, 'consumer');
    assert.equal(event.kid, 'msa-2016');
    assert.match(String(event.msg), /FORGERY CONFIRMED/);
  });

  test('key_issuer_mismatch: the same kid with a signature from a stray key is a probe (high)', async () => {
    const token = await sign(ring.stray, enterpriseClaims(), { header: { kid: 'msa-2016' } });
    const event = await refused('key_issuer_mismatch', bearer(token), { severity: 'high' });
    assert.equal(event.signatureValid, false);
    assert.equal(event.keyIssuer, 'consumer');
    assert.doesNotMatch(String(event.msg), /FORGERY CONFIRMED/);
  });

  test('key_inactive: a key whose validity window is over', async () => {
    const token = signRaw(
      legacyOld,
      { alg: 'ES256', kid: 'legacy-2016' },
      claims({ iss: LAB_ISS, tid: undefined }),
    );
    const event = await refused('key_inactive', bearer(token), { prefix: '/api/lab', severity: 'critical' });
    assert.equal(event.signatureValid, true);
    assert.equal(event.kid, 'legacy-2016');
  });

  test('key_inactive: a token whose iat lies outside the key window', async () => {
    const header = { alg: 'ES256', kid: 'legacy-2024' };
    const lab = (extra: Record<string, unknown> = {}) => claims({ iss: LAB_ISS, tid: undefined, ...extra });
    await accepted('/api/lab', bearer(signRaw(legacyNew, header, lab())));
    const backdated = signRaw(legacyNew, header, lab({ iat: Date.parse('2023-06-01T00:00:00Z') / 1000 }));
    await refused('key_inactive', bearer(backdated), { prefix: '/api/lab' });
  });

  test('key_revoked: a key in revocations.keys (honest signature: critical; copied kid: high)', async () => {
    const lab = claims({ iss: RETIRED_ISS, tid: undefined });
    const honest = await refused(
      'key_revoked',
      bearer(signRaw(retired, { alg: 'ES256', kid: 'retired-1' }, lab)),
      {
        prefix: '/api/lab',
        severity: 'critical',
      },
    );
    assert.equal(honest.signatureValid, true);
    const copied = await refused(
      'key_revoked',
      bearer(signRaw(ring.owa, { alg: 'ES256', kid: 'retired-1' }, lab)),
      {
        prefix: '/api/lab',
        severity: 'high',
      },
    );
    assert.equal(copied.signatureValid, false);
  });
});

describe('verification: signature, then claims', () => {
  test('bad_signature: the right kid, another key', async () => {
    const token = await sign(ring.stray, enterpriseClaims(), { header: { kid: 'ent-2024' } });
    const event = await refused('bad_signature', bearer(token), { severity: 'high' });
    assert.equal(event.kid, 'ent-2024');
  });

  test('token_expired', async () => {
    const token = await entToken({ iat: nowS() - 7200, exp: nowS() - 3600 });
    await refused('token_expired', bearer(token));
  });

  test('token_not_yet_valid: nbf or iat in the future beyond the skew', async () => {
    await refused('token_not_yet_valid', bearer(await entToken({ nbf: nowS() + 3600 })));
    await refused('token_not_yet_valid', bearer(await entToken({ iat: nowS() + 3600, exp: nowS() + 7200 })));
  });

  test('token_lifetime_exceeded: exp - iat above maxTokenLifetimeSeconds', async () => {
    await refused(
      'token_lifetime_exceeded',
      bearer(await entToken({ iat: nowS(), exp: nowS() + 2 * 86_400 })),
    );
  });

  test('claim_missing: sub, exp or iat absent', async () => {
    for (const name of ['sub', 'exp', 'iat']) {
      await refused('claim_missing', bearer(await entToken({ [name]: undefined })));
    }
  });

  test('audience_mismatch: another audience, or none', async () => {
    await refused('audience_mismatch', bearer(await entToken({ aud: 'https://files.example.test' })));
    await refused('audience_mismatch', bearer(await entToken({ aud: ['https://a.test', 'https://b.test'] })));
    await refused('audience_mismatch', bearer(await entToken({ aud: undefined })));
    await accepted('/api/mail', bearer(await entToken({ aud: ['https://files.example.test', AUDIENCE] })));
  });

  test('tenant_not_allowed: a tid not listed, or no tid where tenants are set', async () => {
    await refused('tenant_not_allowed', bearer(await entToken({ tid: 'tid-z' })));
    await refused('tenant_not_allowed', bearer(await entToken({ tid: undefined })));
    await accepted('/api/mail', bearer(await entToken({ tid: 'tid-b' })));
  });
});

describe('provenance, revocations, scopes', () => {
  const owaToken = () =>
    sign(
      ring.owa,
      { iss: ISS.owa, sub: 'alice', aud: AUDIENCE, scp: 'Mail.Read' },
      { header: { typ: 'JWT' } },
    );

  test('issuer_not_accepted: an identity provider the route does not list', async () => {
    const token = await sign(ring.consumer, { iss: ISS.consumer, sub: 'bob', aud: AUDIENCE });
    await refused('issuer_not_accepted', bearer(token), { prefix: '/api/resource', severity: 'high' });
  });

  test('resource_minted_token: to the token-minting route is critical, elsewhere high', async () => {
    const token = await owaToken();
    await refused('resource_minted_token', bearer(token), { prefix: '/api/token', severity: 'critical' });
    await refused('resource_minted_token', bearer(token), { prefix: '/api/mail', severity: 'high' });
    await accepted('/api/resource', bearer(token));
  });

  test('delegation_not_allowed: an act claim, unless the route sets allowDelegation', async () => {
    const token = await entToken({ act: { sub: 'agent-7' } });
    await refused('delegation_not_allowed', bearer(token));
    await accepted('/api/delegated', bearer(token));
  });

  test('subject_revoked: revocations.subjects refuses tokens issued before the cut-off', async () => {
    const dave = (iat: number) =>
      sign(ring.consumer, {
        iss: ISS.consumer,
        sub: 'dave',
        aud: AUDIENCE,
        scp: 'Mail.Read',
        iat,
        exp: nowS() + 3600,
      });
    await refused('subject_revoked', bearer(await dave(Date.parse('2023-07-01T00:00:00Z') / 1000)));
    await accepted('/api/mail', bearer(await dave(nowS())));
    await refused('subject_revoked', bearer(await entToken({ sub: 'carol' })));
  });

  test('token_revoked: a jti in revocations.tokens', async () => {
    await refused('token_revoked', bearer(await entToken({ jti: 'jti-leaked-in-a-ticket' })));
    await accepted('/api/mail', bearer(await entToken({ jti: 'jti-not-leaked' })));
  });

  test('insufficient_scope: 403 with error="insufficient_scope"', async () => {
    await refused('insufficient_scope', bearer(await entToken({ scp: 'Mail.Send' })), { severity: 'low' });
    await refused('insufficient_scope', bearer(await entToken({ scp: undefined })));
  });
});

describe('routing and the upstream', () => {
  test('no_route: 404 whatever the token', async () => {
    const valid = bearer(await entToken());
    for (const authorization of [valid, undefined, 'Bearer garbage']) {
      for (const prefix of ['/nowhere', '/api/mailbox', '/']) {
        const path = prefix === '/' ? `/case-${++caseNumber}` : casePath(prefix);
        assertRefused(await send(path, authorization), path, 'no_route');
      }
    }
  });

  test('no_route: dot segments and encoded separators are not routable (raw request)', async () => {
    const token = await entToken();
    const before = upstream.received.length;
    for (const path of [
      '/api/mail/../token/x',
      '/api/mail/%2e%2e/token/x',
      '/api/mail/%2E%2E/token/x',
      '/api/mail%2f..%2ftoken',
      '/api/resource/..%2ftoken',
    ]) {
      const reply = await sendRaw(path, [`Authorization: Bearer ${token}`]);
      assert.equal(reply.status, 404, path);
      assert.deepEqual(reply.body, { error: 'not_found', reason: 'no_route' });
    }
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
  });

  test('upstream_unavailable: 502 when the upstream port is closed', async () => {
    const path = casePath('/api/dead');
    const reply = await send(path, bearer(await entToken()));
    assert.equal(reply.status, 502);
    assert.deepEqual(reply.body, { error: 'unavailable', reason: 'upstream_unavailable' });
    assert.equal(reply.wwwAuthenticate, undefined);
  });

  test('upstream_timeout: 504 when the upstream is slower than timeoutSeconds', async () => {
    const started = Date.now();
    const reply = await send('/api/slow/slow?ms=2000', bearer(await entToken()));
    const elapsed = Date.now() - started;
    assert.equal(reply.status, 504);
    assert.deepEqual(reply.body, { error: 'unavailable', reason: 'upstream_timeout' });
    assert.equal(reply.wwwAuthenticate, undefined);
    assert.ok(elapsed >= 150 && elapsed < 1500, `answered after ${elapsed} ms`);
  });
});

describe('what the upstream receives', () => {
  const lastAt = (path: string) => {
    const seen = upstream.received.filter((r) => r.url.split('?')[0] === path);
    assert.equal(seen.length, 1, `the upstream received ${path} once`);
    return seen[0]!;
  };

  test('identity headers, and the client x-auth-* headers removed first', async () => {
    const token = await entToken({ jti: 'token-id-1' });
    const path = casePath('/api/mail');
    const reply = await send(path, bearer(token), {
      'x-auth-subject': 'mallory',
      'x-auth-issuer': 'enterprise-admin',
      'x-auth-admin': 'true',
      'X-Auth-Scopes': 'Mail.ReadWrite.All',
    });
    assert.equal(reply.status, 200);
    const { headers } = lastAt(path);
    const auth = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-auth-')));
    assert.deepEqual(auth, {
      'x-auth-issuer': 'enterprise',
      'x-auth-subject': 'alice',
      'x-auth-tenant': 'tid-a',
      'x-auth-token-id': 'token-id-1',
      'x-auth-scopes': 'Mail.Read Mail.Send',
    });
    assert.equal(headers.authorization, `Bearer ${token}`);
  });

  test('an identity header is absent when its claim is; scopes also come from `scope`', async () => {
    const token = await sign(ring.consumer, {
      iss: ISS.consumer,
      sub: 'bob',
      aud: AUDIENCE,
      scope: 'Mail.Read Contacts.Read',
      jti: undefined,
    });
    const path = casePath('/api/mail');
    const reply = await send(path, bearer(token), { 'x-auth-tenant': 'tid-a', 'x-auth-token-id': 'forged' });
    assert.equal(reply.status, 200);
    const { headers } = lastAt(path);
    assert.equal(headers['x-auth-issuer'], 'consumer');
    assert.equal(headers['x-auth-subject'], 'bob');
    assert.equal(headers['x-auth-scopes'], 'Mail.Read Contacts.Read');
    assert.equal(headers['x-auth-tenant'], undefined);
    assert.equal(headers['x-auth-token-id'], undefined);
  });

  test('identity claims outside visible ASCII reach the upstream percent-encoded (UTF-8), never as a 5xx', async () => {
    const cases: [string, string][] = [
      ['山田太郎', '%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E'],
      ['line\nbreak', 'line%0Abreak'],
      ['nul\u0000', 'nul%00'],
      ['josé', 'jos%C3%A9'],
      [' padded ', '%20padded%20'],
      ['100%', '100%25'],
    ];
    for (const [sub, encoded] of cases) {
      const path = casePath('/api/mail');
      const reply = await send(path, bearer(await entToken({ sub })));
      assert.equal(
        reply.status,
        200,
        `sub ${JSON.stringify(sub)}: ${reply.status} ${JSON.stringify(reply.body)}`,
      );
      const { headers } = lastAt(path);
      assert.equal(headers['x-auth-subject'], encoded);
      assert.equal(decodeURIComponent(headers['x-auth-subject'] as string), sub);
    }
  });

  test('forwardToken: false strips Authorization, identity headers stay', async () => {
    const path = casePath('/api/notoken');
    assert.equal((await send(path, bearer(await entToken()))).status, 200);
    const { headers } = lastAt(path);
    assert.equal(headers.authorization, undefined);
    assert.equal(headers['x-auth-subject'], 'alice');
  });

  test('rewritePrefix replaces the route prefix; the query string is kept', async () => {
    const reply = await send('/api/v2/mail/messages/42?select=subject', bearer(await entToken()));
    assert.equal(reply.status, 200);
    assert.equal(reply.body.url, '/mail/v2/messages/42?select=subject');
    assert.equal(upstream.received.at(-1)!.url, '/mail/v2/messages/42?select=subject');
  });

  test('path and query string reach the upstream unchanged', async () => {
    const target = '/api/mail/messages?top=5&skip=10&$filter=from%20eq%20%27a%27&x=%2F';
    const reply = await send(target, bearer(await entToken()));
    assert.equal(reply.status, 200);
    assert.equal(upstream.received.at(-1)!.url, target);
  });

  test('method and body reach the upstream', async () => {
    const body = JSON.stringify({ subject: 'hello', body: 'x'.repeat(10_000) });
    const res = await fetch(`${gw.url}/api/mail/send`, {
      method: 'POST',
      headers: { authorization: bearer(await entToken()), 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 200);
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/api/mail/send');
    assert.equal(seen.bodyBytes, Buffer.byteLength(body));
  });
});
