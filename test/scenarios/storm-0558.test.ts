// Storm-0558 (2023), replayed against provgate. The attackers held a retired consumer-account
// signing key, signed tokens claiming the enterprise identity provider, and read enterprise
// mail because the mail service asked "is this one of our keys?" instead of "is this a key of
// the issuer the token names?". They also handed tokens minted by the mail API back to its
// token endpoint. Each step below is one move of the incident and what provgate does about it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
import { get } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let mailApi: Upstream;
let dir: string;
/** The gateway as deployed before anyone knew the consumer key was stolen. */
let gateway: TestGateway;

// The victim is an enterprise mailbox; the attacker picks whom to impersonate.
const VICTIM = { sub: 'ceo@contoso.example', tid: 'tid-a' };

function deployment(extra: { revocations?: unknown; consumer?: Record<string, unknown> } = {}) {
  const config = referenceConfig(dir, ring, {
    upstream: mailApi.url,
    ...(extra.consumer ? { issuers: { consumer: extra.consumer } } : {}),
  });
  if (extra.revocations) config.revocations = extra.revocations;
  return config;
}

/** Whether any request for this path reached the mail API. */
const mailApiSaw = (path: string) => mailApi.received.some((r) => r.url.split('?')[0] === path);

function assertRefusedAs(
  res: { status: number; headers: Headers; body: Record<string, unknown> },
  reason: string,
): void {
  assert.equal(res.status, 401);
  assert.deepEqual(res.body, { error: 'invalid_token', reason });
  assert.equal(
    res.headers.get('www-authenticate'),
    `Bearer error="invalid_token", error_description="${reason}"`,
  );
}

function eventFor(gw: TestGateway, path: string): Record<string, unknown> {
  const events = gw.logs.events().filter((e) => e.path === path);
  assert.equal(events.length, 1, `one security event for ${path}`);
  return events[0]!;
}

before(async () => {
  [ring, mailApi] = await Promise.all([keyRing(), startUpstream()]);
  dir = tempDir();
  gateway = await startTestGateway(deployment(), { dir });
});

after(async () => {
  await gateway.close();
  await mailApi.close();
});

describe('Storm-0558, replayed against provgate', () => {
  test('1. a legitimate enterprise user reads her mail', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'alice@contoso.example' }));
    const res = await get(`${gateway.url}/api/mail/me/messages?top=10`, token);
    assert.equal(res.status, 200);
    const seen = mailApi.received.at(-1)!;
    assert.equal(seen.url, '/api/mail/me/messages?top=10');
    assert.equal(seen.headers['x-auth-issuer'], 'enterprise');
    assert.equal(seen.headers['x-auth-subject'], 'alice@contoso.example');
    assert.equal(seen.headers['x-auth-tenant'], 'tid-a');
  });

  test('2. the stolen consumer key signs a token claiming the enterprise issuer: refused, FORGERY CONFIRMED', async () => {
    // The signature is perfectly valid, under a key the gateway trusts, for the consumer issuer.
    const forged = await sign(ring.consumer, enterpriseClaims(VICTIM));
    const path = '/api/mail/ceo/messages';
    const res = await get(`${gateway.url}${path}`, forged);
    assertRefusedAs(res, 'key_issuer_mismatch');
    assert.equal(mailApiSaw(path), false, 'the mail API never saw the forged request');

    const event = eventFor(gateway, path);
    assert.equal(event.severity, 'critical');
    assert.equal(
      event.signatureValid,
      true,
      'the signature verifies under the consumer key: someone holds it',
    );
    assert.equal(event.claimedIssuer, ISS.enterprise);
    assert.equal(event.keyIssuer, 'consumer');
    assert.equal(event.kid, 'msa-2016');
    assert.equal(event.sub, VICTIM.sub);
    assert.match(String(event.msg), /FORGERY CONFIRMED/);
    assert.equal(event.level, 50, 'logged as an error, not as noise');

    // Someone who merely copied the public kid, without the private key, is a probe, not a forgery.
    const probe = await sign(ring.stray, enterpriseClaims(VICTIM), { header: { kid: 'msa-2016' } });
    const probePath = '/api/mail/ceo/folders';
    assertRefusedAs(await get(`${gateway.url}${probePath}`, probe), 'key_issuer_mismatch');
    const probeEvent = eventFor(gateway, probePath);
    assert.equal(probeEvent.severity, 'high');
    assert.equal(probeEvent.signatureValid, false);
    assert.doesNotMatch(String(probeEvent.msg), /FORGERY CONFIRMED/);
  });

  test('3. the consumer key still works for consumers, until it is revoked in the configuration', async () => {
    const consumerToken = await sign(ring.consumer, {
      iss: ISS.consumer,
      sub: 'bob@outlook.example',
      aud: AUDIENCE,
      scp: 'Mail.Read',
    });
    assert.equal((await get(`${gateway.url}/api/mail/bob/messages`, consumerToken)).status, 200);

    // The key is known stolen: the operator revokes it and redeploys.
    const revoked = await startTestGateway(
      deployment({ revocations: { keys: [{ issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' }] } }),
      { dir },
    );
    try {
      const path = '/api/mail/bob/messages';
      const before = mailApi.received.length;
      assertRefusedAs(await get(`${revoked.url}${path}`, consumerToken), 'key_revoked');
      const event = eventFor(revoked, path);
      assert.equal(event.signatureValid, true);
      assert.equal(
        event.severity,
        'critical',
        'a valid signature under a revoked key means the key is in use',
      );

      // And the forgery of step 2 stays what it is: a cross-issuer key, whatever its state.
      const forged = await sign(ring.consumer, enterpriseClaims(VICTIM));
      assertRefusedAs(await get(`${revoked.url}/api/mail/ceo/messages`, forged), 'key_issuer_mismatch');
      assert.equal(mailApi.received.length, before, 'nothing reached the mail API');
    } finally {
      await revoked.close();
    }
  });

  test('4. a token minted by the mail API, replayed to the token endpoint: resource_minted_token, critical', async () => {
    // What OWA's GetAccessTokenForResource handed out: a resource-role token.
    const minted = await sign(ring.owa, { iss: ISS.owa, sub: VICTIM.sub, aud: AUDIENCE, scp: 'Mail.Read' });
    const path = '/api/token/exchange';
    assertRefusedAs(
      await get(`${gateway.url}${path}`, minted, { method: 'POST', body: '{}' }),
      'resource_minted_token',
    );
    assert.equal(mailApiSaw(path), false);
    const event = eventFor(gateway, path);
    assert.equal(event.severity, 'critical');
    assert.equal(event.route, 'token');

    // The same token is fine where a resource token belongs.
    assert.equal((await get(`${gateway.url}/api/resource/calendar`, minted)).status, 200);
  });

  test('5. a consumer key past its validity window (notAfter 2021) is inactive', async () => {
    const windowed = await startTestGateway(
      deployment({
        consumer: {
          keyValidity: {
            'msa-2016': { notBefore: '2016-04-01T00:00:00Z', notAfter: '2021-04-01T00:00:00Z' },
          },
        },
      }),
      { dir },
    );
    try {
      const token = await sign(ring.consumer, {
        iss: ISS.consumer,
        sub: 'bob@outlook.example',
        aud: AUDIENCE,
        scp: 'Mail.Read',
      });
      const path = '/api/mail/bob/messages';
      const before = mailApi.received.length;
      assertRefusedAs(await get(`${windowed.url}${path}`, token), 'key_inactive');
      assert.equal(mailApi.received.length, before);
      const event = eventFor(windowed, path);
      assert.equal(event.kid, 'msa-2016');
      assert.equal(event.signatureValid, true);
      assert.equal(event.severity, 'critical', 'a key that should be retired is signing tokens');
    } finally {
      await windowed.close();
    }
  });

  test('6. a token that brings its own key in the header is refused: forbidden_header', async () => {
    // The attacker's own key, offered inside the token so that a naive verifier would use it.
    const token = await sign(ring.stray, enterpriseClaims(VICTIM), {
      header: { kid: undefined, jwk: ring.stray.publicJwk },
    });
    const path = '/api/mail/ceo/attachments/1';
    assertRefusedAs(await get(`${gateway.url}${path}`, token), 'forbidden_header');
    assert.equal(mailApiSaw(path), false);
    assert.equal(eventFor(gateway, path).severity, 'critical');
  });

  test('epilogue: the legitimate user was never affected', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'alice@contoso.example' }));
    assert.equal((await get(`${gateway.url}/api/mail/me/messages`, token)).status, 200);
    const critical = gateway.logs.events().filter((e) => e.severity === 'critical');
    assert.deepEqual(
      critical.map((e) => e.reason),
      ['key_issuer_mismatch', 'resource_minted_token', 'forbidden_header'],
    );
  });
});
