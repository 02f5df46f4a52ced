// RFC 8935 push to the gateway from a real transmitter on loopback (its own keys, made at test
// time), with a second transmitter and the token issuers' keys as the wrong signers: every
// validation refusal with its `err`, and the SET leaves no trace of itself in the log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DevKeyPair } from '../../src/demo/dev-keys.js';
import { generateDevKey } from '../../src/demo/dev-keys.js';
import {
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
import { get, httpRequest } from '../helpers/http.js';
import { SSF_AUDIENCE, startTransmitterStub, type TransmitterStub } from '../helpers/ssf-transmitter-stub.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SECRET = 'Bearer ssf-push-secret-0123456789';
const alice = { format: 'iss_sub', iss: ISS.enterprise, sub: 'alice' };

let ring: KeyRing;
let upstream: Upstream;
let idp: TransmitterStub;
let partner: TransmitterStub;
let polled: TransmitterStub;
let stray: DevKeyPair;
let gw: TestGateway;
let pushUrl: string;

before(async () => {
  ring = await keyRing();
  upstream = await startUpstream();
  idp = await startTransmitterStub({ alg: 'ES256' });
  partner = await startTransmitterStub({ alg: 'ES256' });
  polled = await startTransmitterStub({ alg: 'ES256' });
  stray = await generateDevKey('ES256', 'stray-ssf');
  idp.criticalSubjectMembers = ['device'];
  const dir = tempDir();
  gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        // The push path skips the bearer hook, never the operator's deny lists.
        protection: { denyNetworks: { cidrs: ['127.0.99.0/24'] } },
        signals: {
          transmitters: {
            // Keys found through the transmitter's /.well-known/ssf-configuration.
            idp: {
              issuer: idp.issuer,
              keys: { discovery: idp.configurationUrl },
              algorithms: ['ES256'],
              audience: SSF_AUDIENCE,
              subjects: ['enterprise'],
              authorization: SECRET,
              maxAgeSeconds: 600,
            },
            partner: {
              issuer: partner.issuer,
              keys: { url: partner.jwksUrl },
              audience: SSF_AUDIENCE,
              subjects: ['consumer'],
            },
            polled: {
              issuer: polled.issuer,
              keys: { url: polled.jwksUrl },
              audience: SSF_AUDIENCE,
              subjects: ['enterprise'],
              delivery: 'poll',
              poll: { url: polled.pollUrl, intervalSeconds: 3600 },
            },
          },
        },
      },
    }),
    { dir },
  );
  pushUrl = `${gw.url}/ssf/events`;
});

after(async () => {
  await gw.close();
  await Promise.all([idp.close(), partner.close(), polled.close(), upstream.close()]);
});

const now = () => Math.floor(Date.now() / 1000);

async function pushed(set: string, authorization: string | undefined = SECRET) {
  return idp.push(pushUrl, set, authorization === undefined ? {} : { authorization });
}

async function refusedWith(set: string, err: string, authorization?: string): Promise<void> {
  const res = await pushed(set, authorization);
  assert.equal(res.status, 400, res.body);
  assert.equal(res.json?.err, err, res.body);
  assert.equal(typeof res.json?.description, 'string');
}

describe('a valid SET', () => {
  test('is answered 202 with an empty body once applied, and the token issued before it is refused', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'push-alice' }), { now: now() - 30 });
    assert.equal((await get(`${gw.url}/api/mail/m`, token)).status, 200);
    const set = await idp.sign({
      event: 'session-revoked',
      subject: { ...alice, sub: 'push-alice' },
      payload: { event_timestamp: now() - 5, reason_admin: { en: 'stolen laptop' } },
    });
    const res = await pushed(set);
    assert.equal(res.status, 202);
    assert.equal(res.body, '');
    const refused = await get(`${gw.url}/api/mail/m`, token);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.reason, 'subject_revoked');
    const line = gw.logs.lines.find((l) => l.event === 'signal.applied' && l.eventType === 'session-revoked');
    assert.ok(line, 'signal.applied is logged');
    assert.equal(line.transmitter, 'idp');
    assert.match(String(line.setFingerprint), /^[0-9a-f]{16}$/);
    assert.ok(!gw.logs.text.includes(set), 'the SET itself is never logged');
    assert.ok(!gw.logs.text.includes(set.split('.')[2]!), 'not even its signature');
  });

  test('of an unknown event type is acknowledged and logged, not acted on', async () => {
    const set = await idp.sign({ event: 'https://example.test/event-type/coffee-spilled', subject: alice });
    const res = await pushed(set);
    assert.equal(res.status, 202);
    const line = gw.logs.lines.find(
      (l) => l.event === 'signal.ignored' && l.eventType === 'https://example.test/event-type/coffee-spilled',
    );
    assert.ok(line);
    assert.match(String(line.ignored), /unknown event type/);
  });

  test('with a critical subject member it does not act on, it is discarded (SSF 1.0 section 3.6)', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'crit-alice' }), { now: now() - 30 });
    const set = await idp.sign({
      event: 'session-revoked',
      subject: {
        format: 'complex',
        user: { ...alice, sub: 'crit-alice' },
        device: { format: 'opaque', id: 'laptop-7' },
      },
    });
    assert.equal((await pushed(set)).status, 202);
    assert.equal((await get(`${gw.url}/api/mail/m`, token)).status, 200, 'nothing revoked');
    const line = gw.logs.lines.find(
      (l) => l.event === 'signal.ignored' && String(l.ignored).includes('critical'),
    );
    assert.ok(line, 'logged as discarded');
  });

  test('the push path takes no bearer token and serves no upstream', async () => {
    const res = await get(pushUrl);
    assert.equal(res.status, 405);
    assert.equal(upstream.received.filter((r) => r.url.startsWith('/ssf')).length, 0);
    // Any other spelling of the path goes through the request pipeline like every request.
    const other = await idp.push(`${gw.url}/ssf/events/`, 'x', { authorization: SECRET });
    assert.equal(other.status, 404);
  });
});

describe('every validation refusal names its err', () => {
  test('invalid_request: not a compact JWS, a wrong typ, a wrong Content-Type', async () => {
    await refusedWith('not-a-jws', 'invalid_request');
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { header: { typ: 'JWT' } }),
      'invalid_request',
    );
    const set = await idp.sign({ event: 'session-revoked', subject: alice });
    const res = await idp.push(pushUrl, set, { authorization: SECRET, contentType: 'application/jwt' });
    assert.equal(res.status, 400);
    assert.equal(res.json?.err, 'invalid_request');
  });

  test('invalid_request: iat too old or in the future, no jti, a sub or exp claim, not one event', async () => {
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, iat: now() - 3600 }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, iat: now() + 600 }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, jti: '' }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, extraClaims: { sub: 'alice' } }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, extraClaims: { exp: now() + 60 } }),
      'invalid_request',
    );
    const two = {
      events: {
        'https://schemas.openid.net/secevent/caep/event-type/session-revoked': {},
        'https://schemas.openid.net/secevent/risc/event-type/account-disabled': {},
      },
    };
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, extraClaims: two }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, extraClaims: { events: {} } }),
      'invalid_request',
    );
  });

  test('invalid_request: no sub_id, a malformed one, a payload that does not conform', async () => {
    await refusedWith(await idp.sign({ event: 'session-revoked', subject: undefined }), 'invalid_request');
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: { format: 'iss_sub', iss: ISS.enterprise } }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({
        event: 'session-revoked',
        subject: { subject_type: 'iss-sub', iss: ISS.enterprise, sub: 'a' },
      }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({
        event: 'credential-change',
        subject: alice,
        payload: { credential_type: 'password', change_type: 'shredded' },
      }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({
        event: 'risk-level-change',
        subject: alice,
        payload: { principal: 'USER', current_level: 'SEVERE' },
      }),
      'invalid_request',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, payload: { event_timestamp: 'yesterday' } }),
      'invalid_request',
    );
  });

  test('invalid_issuer: an iss that is no configured transmitter, or none', async () => {
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, iss: 'https://elsewhere.example.test' }),
      'invalid_issuer',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, extraClaims: { iss: undefined } }),
      'invalid_issuer',
    );
  });

  test('invalid_audience: an aud that names none of ours', async () => {
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice, aud: 'https://someone-else.example.test' }),
      'invalid_audience',
    );
  });

  test('authentication_failed: the transmitter Authorization header missing, wrong or sent twice', async () => {
    const set = await idp.sign({ event: 'session-revoked', subject: alice });
    const missing = await idp.push(pushUrl, set);
    assert.equal(missing.status, 400);
    assert.equal(missing.json?.err, 'authentication_failed');
    await refusedWith(set, 'authentication_failed', 'Bearer ssf-push-secret-0123456788');
    await refusedWith(set, 'authentication_failed', `${SECRET}x`);
  });

  test('access_denied: a push from a transmitter configured for poll delivery', async () => {
    const set = await polled.sign({ event: 'session-revoked', subject: alice });
    const res = await polled.push(pushUrl, set);
    assert.equal(res.status, 400);
    assert.equal(res.json?.err, 'access_denied');
  });

  test('invalid_key: signed by a token issuer key, by another transmitter, by a key of nobody', async () => {
    // The enterprise issuer's own signing keys, with their own kids: never SET keys.
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { key: ring.enterprise }),
      'invalid_key',
    );
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { key: ring.enterpriseEs }),
      'invalid_key',
    );
    // The partner transmitter's key, signing as idp: a key speaks for its transmitter alone.
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { key: partner.key }),
      'invalid_key',
    );
    // A key known to nobody, once with its own kid and once naming idp's kid.
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { key: stray }),
      'invalid_key',
    );
    await refusedWith(
      await idp.sign(
        { event: 'session-revoked', subject: alice },
        { key: stray, header: { kid: idp.key.kid } },
      ),
      'invalid_key',
    );
    // Keys never come from the SET, and an algorithm off the transmitter's list is refused.
    await refusedWith(
      await idp.sign({ event: 'session-revoked', subject: alice }, { header: { jwk: idp.key.publicJwk } }),
      'invalid_key',
    );
    await refusedWith(
      await idp.sign(
        { event: 'session-revoked', subject: alice },
        { key: ring.consumer, header: { kid: idp.key.kid } },
      ),
      'invalid_key',
    );
    const forged = gw.logs.lines.find(
      (l) => l.event === 'signal.refused' && l.keyOwner === 'issuer enterprise' && l.signatureValid === true,
    );
    assert.ok(forged, 'a SET signed with a token issuer key is named, and its signature proven');
    assert.equal(forged.severity, 'critical');
    assert.ok(
      gw.logs.lines.some((l) => l.event === 'signal.refused' && l.keyOwner === 'transmitter partner'),
      'another transmitter key is named',
    );
  });

  test('access_denied: a push from a denied network, before anything is read', async () => {
    const denied = await httpRequest(pushUrl, {
      method: 'POST',
      localAddress: '127.0.99.7',
      headers: { 'content-type': 'application/secevent+jwt', authorization: SECRET },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.err, 'access_denied');
    const allowed = await httpRequest(pushUrl, {
      method: 'POST',
      localAddress: '127.0.98.7',
      headers: { 'content-type': 'application/secevent+jwt', authorization: SECRET },
    });
    assert.equal(allowed.status, 400);
    assert.equal(allowed.body.err, 'invalid_request');
  });

  test('a body over 64 KiB is refused unread', async () => {
    const res = await idp.push(pushUrl, 'x'.repeat(64 * 1024 + 1), { authorization: SECRET });
    assert.equal(res.status, 413);
    assert.equal(res.json?.err, 'invalid_request');
  });

  test('a refusal is counted by transmitter, event and outcome on /metrics', async () => {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(
      text,
      /provgate_signals_sets_total\{transmitter="idp",event="session-revoked",outcome="invalid_key"\} [1-9]/,
    );
    assert.match(
      text,
      /provgate_signals_sets_total\{transmitter="idp",event="session-revoked",outcome="applied"\} 1/,
    );
    assert.match(
      text,
      /provgate_signals_sets_total\{transmitter="unknown",event="session-revoked",outcome="invalid_issuer"\} [1-9]/,
    );
  });
});
