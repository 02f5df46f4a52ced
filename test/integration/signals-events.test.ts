// What each event type does to tokens issued before and after its event_timestamp: CAEP, RISC
// and SSF events pushed by a real transmitter on loopback, answered by a real gateway.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, type JWTPayload } from 'jose';
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
import { get } from '../helpers/http.js';
import { admin } from '../helpers/revocation.js';
import { SSF_AUDIENCE, startTransmitterStub, type TransmitterStub } from '../helpers/ssf-transmitter-stub.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let upstream: Upstream;
let idp: TransmitterStub;
let google: TransmitterStub;
let gw: TestGateway;

before(async () => {
  ring = await keyRing();
  upstream = await startUpstream();
  idp = await startTransmitterStub({ alg: 'RS256' });
  google = await startTransmitterStub({ alg: 'ES256' });
  const dir = tempDir();
  gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      issuers: { enterprise: { maxTokenLifetimeSeconds: 7200 } },
      extra: {
        signals: {
          push: { path: '/.well-known/ssf/push' },
          transmitters: {
            idp: {
              issuer: idp.issuer,
              keys: { url: idp.jwksUrl },
              audience: [SSF_AUDIENCE, 'https://other.example.test'],
              subjects: ['enterprise'],
              onStreamDown: 'fail-closed',
              maxTokenAgeSeconds: 60,
            },
            google: {
              issuer: google.issuer,
              keys: { url: google.jwksUrl },
              audience: SSF_AUDIENCE,
              subjects: ['enterprise'],
              legacySubjectType: true,
            },
          },
          blockOn: {
            'risk-level-change': { values: ['HIGH'], routes: ['mail'] },
            'device-compliance-change': 'not-compliant',
            'assurance-level-change': ['decrease'],
          },
        },
      },
    }),
    { dir },
  );
});

after(async () => {
  await gw.close();
  await Promise.all([idp.close(), google.close(), upstream.close()]);
});

const now = () => Math.floor(Date.now() / 1000);
const user = (sub: string) => ({ format: 'iss_sub', iss: ISS.enterprise, sub });

function token(sub: string, iat: number, extra: JWTPayload = {}): Promise<string> {
  return sign(ring.enterprise, enterpriseClaims({ sub, ...extra }), { now: iat });
}

async function verdict(t: string, path = '/api/mail/messages'): Promise<string> {
  const res = await get(`${gw.url}${path}`, t);
  return res.status === 200 ? 'ok' : `${res.status} ${String(res.body.reason)}`;
}

async function send(
  event: string,
  subject: Record<string, unknown> | undefined,
  payload: Record<string, unknown> = {},
  from: TransmitterStub = idp,
): Promise<void> {
  const set = await from.sign({ event, subject, payload });
  const res = await from.push(`${gw.url}/.well-known/ssf/push`, set);
  assert.equal(res.status, 202, `${event}: ${res.body}`);
}

describe('CAEP session-revoked', () => {
  test('a user subject refuses that user tokens issued at or before event_timestamp, not later ones', async () => {
    const t = now();
    const before = await token('sr-user', t - 20);
    const atTheInstant = await token('sr-user', t - 10);
    const later = await token('sr-user', t - 9);
    const otherUser = await token('sr-other', t - 20);
    await send('session-revoked', user('sr-user'), { event_timestamp: t - 10 });
    assert.equal(await verdict(before), '401 subject_revoked');
    assert.equal(await verdict(atTheInstant), '401 subject_revoked');
    assert.equal(await verdict(later), 'ok');
    assert.equal(await verdict(otherUser), 'ok');
  });

  test('what became of each SET is a security event on /events, naming it by jti and fingerprint only', async () => {
    const set = await idp.sign({
      event: 'session-revoked',
      subject: user('sr-evented'),
      payload: { event_timestamp: now() - 5 },
    });
    assert.equal((await idp.push(`${gw.url}/.well-known/ssf/push`, set)).status, 202);
    const wrongTyp = await idp.sign(
      { event: 'session-revoked', subject: user('sr-evented') },
      { header: { typ: 'JWT' } },
    );
    const refusedAnswer = await idp.push(`${gw.url}/.well-known/ssf/push`, wrongTyp);
    assert.equal(refusedAnswer.status, 400);
    const listed = await admin(gw.adminUrl, 'GET', '/events');
    const events = (listed.body.events as { event: Record<string, unknown> }[]).map((e) => e.event);
    const applied = events.find((e) => e.event === 'signal.applied' && e.jti === decodeJwt(set).jti);
    assert.ok(applied, `signal.applied on /events: ${JSON.stringify(events.map((e) => e.event))}`);
    assert.equal(applied.severity, 'high');
    assert.equal(applied.transmitter, 'idp');
    assert.equal(applied.eventType, 'session-revoked');
    assert.equal(applied.rule, 'signal.session-revoked');
    assert.match(String(applied.setFingerprint), /^[0-9a-f]{16}$/);
    const refused = events.find((e) => e.event === 'signal.refused' && e.jti === decodeJwt(wrongTyp).jti);
    assert.ok(refused, 'a refused SET is an event too, low as its err');
    assert.equal(refused.err, 'invalid_request');
    assert.equal(refused.severity, 'low');
    const text = JSON.stringify(listed.body);
    for (const s of [set, wrongTyp]) {
      assert.ok(!text.includes(s) && !text.includes(s.split('.')[2]!), 'no SET on /events');
      assert.ok(!gw.logs.text.includes(s) && !gw.logs.text.includes(s.split('.')[2]!), 'no SET in the log');
    }
  });

  test('a session subject refuses the tokens carrying that sid, whenever issued', async () => {
    const t = now();
    const inSession = await token('sr-sess', t - 20, { sid: 'sess-123' });
    const sameSessionLater = await token('sr-sess', t + 5, { sid: 'sess-123' });
    const otherSession = await token('sr-sess', t - 20, { sid: 'sess-456' });
    const noSession = await token('sr-sess', t - 20);
    await send('session-revoked', {
      format: 'complex',
      user: user('sr-sess'),
      session: { format: 'opaque', id: 'sess-123' },
    });
    assert.equal(await verdict(inSession), '401 session_revoked');
    assert.equal(await verdict(sameSessionLater), '401 session_revoked');
    assert.equal(await verdict(otherSession), 'ok');
    assert.equal(await verdict(noSession), 'ok', 'a session subject revokes that session, not the user');
    const records = (await admin(gw.adminUrl, 'GET', '/revocations')).body.revocations as Record<
      string,
      unknown
    >[];
    const record = records.find((r) => r.kind === 'session' && r.sid === 'sess-123');
    assert.ok(record);
    assert.equal(record.by, 'ssf:idp');
    assert.match(String(record.reason), /SET jti /);
    // Forgotten once every token the session could have held is dead (maxTokenLifetimeSeconds).
    assert.ok(typeof record.expiresAt === 'number');
  });

  test('RISC sessions-revoked (legacy) does as session-revoked for the subject', async () => {
    const t = now();
    const old = await token('legacy-sr', t - 20);
    await send('sessions-revoked', user('legacy-sr'), {});
    assert.equal(await verdict(old), '401 subject_revoked');
  });
});

describe('CAEP credential-change and token-claims-change', () => {
  test('revoke, delete and update raise the watermark; create changes nothing', async () => {
    const t = now();
    for (const change of ['revoke', 'delete', 'update']) {
      const sub = `cc-${change}`;
      const old = await token(sub, t - 20);
      const fresh = await token(sub, t + 2);
      await send('credential-change', user(sub), {
        credential_type: 'password',
        change_type: change,
        event_timestamp: t,
      });
      assert.equal(await verdict(old), '401 subject_revoked', change);
      assert.equal(await verdict(fresh), 'ok', change);
    }
    const created = await token('cc-create', t - 20);
    await send('credential-change', user('cc-create'), {
      credential_type: 'fido2-roaming',
      change_type: 'create',
    });
    assert.equal(await verdict(created), 'ok');
  });

  test('token-claims-change with a jwt_id subject refuses that one token', async () => {
    const t = now();
    const target = await token('tcc', t - 20, { jti: 'tcc-jti-1' });
    const sibling = await token('tcc', t - 20, { jti: 'tcc-jti-2' });
    await send(
      'token-claims-change',
      { format: 'jwt_id', iss: ISS.enterprise, jti: 'tcc-jti-1' },
      {
        claims: { role: 'guest' },
      },
    );
    assert.equal(await verdict(target), '401 token_revoked');
    assert.equal(await verdict(sibling), 'ok');
  });

  test('token-claims-change with a user subject raises the watermark', async () => {
    const t = now();
    const old = await token('tcc-user', t - 20);
    const fresh = await token('tcc-user', t + 2);
    await send('token-claims-change', user('tcc-user'), { claims: { groups: [] }, event_timestamp: t });
    assert.equal(await verdict(old), '401 subject_revoked');
    assert.equal(await verdict(fresh), 'ok');
  });
});

describe('RISC account and credential events', () => {
  test('account-disabled refuses every token of the subject until account-enabled', async () => {
    const t = now();
    const old = await token('acct', t - 20);
    const fresh = await token('acct', t + 2);
    await send('account-disabled', user('acct'), { reason: 'hijacking', event_timestamp: t });
    assert.equal(await verdict(old), '401 subject_revoked');
    assert.equal(await verdict(fresh), '401 subject_revoked', 'whatever its iat');
    await send('account-enabled', user('acct'), { event_timestamp: t + 1 });
    assert.equal(await verdict(fresh), 'ok');
  });

  test('account-purged refuses for good: a later account-enabled does not lift it', async () => {
    const t = now();
    const fresh = await token('purged', t + 2);
    await send('account-purged', user('purged'), { event_timestamp: t });
    assert.equal(await verdict(fresh), '401 subject_revoked');
    await send('account-enabled', user('purged'), { event_timestamp: t + 1 });
    assert.equal(await verdict(fresh), '401 subject_revoked');
  });

  test('an account-disabled older than an account-enabled already applied changes nothing', async () => {
    const t = now();
    const fresh = await token('acct-late', t + 2);
    await send('account-enabled', user('acct-late'), { event_timestamp: t });
    await send('account-disabled', user('acct-late'), { event_timestamp: t - 30 });
    assert.equal(await verdict(fresh), 'ok');
  });

  test('credential-compromise raises the watermark with a critical event', async () => {
    const t = now();
    const old = await token('compromised', t - 20);
    const fresh = await token('compromised', t + 2);
    await send('credential-compromise', user('compromised'), {
      credential_type: 'password',
      event_timestamp: t,
    });
    assert.equal(await verdict(old), '401 subject_revoked');
    assert.equal(await verdict(fresh), 'ok');
    const line = gw.logs.lines.find(
      (l) => l.event === 'signal.applied' && l.eventType === 'credential-compromise',
    );
    assert.ok(line);
    assert.equal(line.severity, 'critical');
    assert.equal(line.level, 50);
    const events = (await admin(gw.adminUrl, 'GET', '/events?severity=critical')).body.events as
      | { event: Record<string, unknown> }[]
      | undefined;
    assert.ok(
      events?.some((e) => e.event.rule === 'signal.credential-compromise'),
      'on the security event stream',
    );
  });
});

describe('assurance, device and risk changes block per signals.blockOn', () => {
  test('risk-level-change HIGH blocks the subject on the routes listed, LOW lifts it', async () => {
    const t = now();
    const tok = await token('risky', t - 20);
    await send('risk-level-change', user('risky'), {
      principal: 'USER',
      current_level: 'HIGH',
      event_timestamp: t,
    });
    assert.equal(await verdict(tok), '401 signal_blocked');
    assert.equal(await verdict(tok, '/api/resource/x'), 'ok', 'a route blockOn does not list');
    const fresh = await token('risky', t + 2);
    assert.equal(await verdict(fresh), '401 signal_blocked', 'a block holds whatever the iat');
    await send('risk-level-change', user('risky'), {
      principal: 'USER',
      current_level: 'LOW',
      event_timestamp: t + 1,
    });
    assert.equal(await verdict(tok), 'ok');
  });

  test('an operator lifts a signal block through the admin API', async () => {
    const t = now();
    const tok = await token('risky-op', t - 20);
    await send('risk-level-change', user('risky-op'), {
      principal: 'USER',
      current_level: 'HIGH',
      event_timestamp: t,
    });
    assert.equal(await verdict(tok), '401 signal_blocked');
    const blocks = (await admin(gw.adminUrl, 'GET', '/signals')).body.blocks as { id: string; sub: string }[];
    const block = blocks.find((b) => b.sub === 'risky-op');
    assert.ok(block);
    const lifted = await admin(gw.adminUrl, 'DELETE', `/signals/blocks/${block.id}`);
    assert.equal(lifted.status, 200);
    assert.equal(await verdict(tok), 'ok');
    assert.equal((await admin(gw.adminUrl, 'DELETE', `/signals/blocks/${block.id}`)).status, 404);
    const line = gw.logs.lines.find((l) => l.event === 'signal.block_lifted' && l.id === block.id);
    assert.equal(line?.by, 'static-token');
  });

  test('a risk level older than the one applied changes nothing', async () => {
    const t = now();
    const tok = await token('risky-late', t - 20);
    await send('risk-level-change', user('risky-late'), {
      principal: 'USER',
      current_level: 'LOW',
      event_timestamp: t,
    });
    await send('risk-level-change', user('risky-late'), {
      principal: 'USER',
      current_level: 'HIGH',
      event_timestamp: t - 60,
    });
    assert.equal(await verdict(tok), 'ok');
  });

  test('device-compliance-change to not-compliant blocks on every route; compliant lifts it', async () => {
    const t = now();
    const tok = await token('device', t - 20);
    await send('device-compliance-change', user('device'), {
      previous_status: 'compliant',
      current_status: 'not-compliant',
      event_timestamp: t,
    });
    assert.equal(await verdict(tok), '401 signal_blocked');
    assert.equal(await verdict(tok, '/api/resource/x'), '401 signal_blocked');
    await send('device-compliance-change', user('device'), {
      previous_status: 'not-compliant',
      current_status: 'compliant',
      event_timestamp: t + 1,
    });
    assert.equal(await verdict(tok), 'ok');
  });

  test('assurance-level-change: a decrease blocks, an increase lifts', async () => {
    const t = now();
    const tok = await token('aal', t - 20);
    await send('assurance-level-change', user('aal'), {
      namespace: 'NIST-AAL',
      current_level: 'nist-aal1',
      previous_level: 'nist-aal2',
      change_direction: 'decrease',
      event_timestamp: t,
    });
    assert.equal(await verdict(tok), '401 signal_blocked');
    await send('assurance-level-change', user('aal'), {
      namespace: 'NIST-AAL',
      current_level: 'nist-aal2',
      change_direction: 'increase',
      event_timestamp: t + 1,
    });
    assert.equal(await verdict(tok), 'ok');
  });
});

describe('watermarks only rise', () => {
  test('an older event arriving after a newer one never lowers the watermark', async () => {
    const t = now();
    const between = await token('ooo', t - 30);
    await send('session-revoked', user('ooo'), { event_timestamp: t - 10 });
    await send('session-revoked', user('ooo'), { event_timestamp: t - 60 });
    assert.equal(await verdict(between), '401 subject_revoked');
    const later = await token('ooo', t - 5);
    assert.equal(await verdict(later), 'ok');
    // The late one was covered by the watermark in force: nothing was stored for it.
    const records = (await admin(gw.adminUrl, 'GET', '/revocations')).body.revocations as Record<
      string,
      unknown
    >[];
    assert.equal(records.filter((r) => r.kind === 'subject' && r.sub === 'ooo').length, 1);
  });

  test('an event_timestamp ahead of our clock cannot revoke tokens not yet issued', async () => {
    const t = now();
    await send('session-revoked', user('future'), { event_timestamp: t + 86_400 });
    const issuedAfterSkew = await token('future', t + 61 + 5);
    // iat past our now + skew is refused as not yet valid; at our now + the transmitter skew, revoked.
    assert.notEqual(await verdict(issuedAfterSkew), '401 subject_revoked');
  });
});

describe('SSF stream events', () => {
  test('a verification nobody asked for is acknowledged, verifies nothing, and is reported', async () => {
    await send('verification', { format: 'opaque', id: 'stream-1' }, { state: 'check-123' });
    const res = await admin(gw.adminUrl, 'GET', '/signals');
    const idpStatus = (res.body.transmitters as Record<string, unknown>[]).find((t) => t.name === 'idp');
    assert.equal(idpStatus?.lastVerification, 'unexpected');
    assert.equal(idpStatus?.lastVerifiedAt, undefined);
    const warned = gw.logs.lines.find((l) => l.event === 'signal.verification_unexpected');
    assert.equal(warned?.level, 40);
  });

  test('stream-updated paused: critical event, transmitter down, old tokens refused (fail-closed); enabled again serves them', async () => {
    const t = now();
    const old = await token('stream', t - 120);
    const fresh = await token('stream', t - 5);
    await send(
      'stream-updated',
      { format: 'opaque', id: 'stream-1' },
      { status: 'paused', reason: 'maintenance' },
    );
    assert.equal(await verdict(old), '401 signal_stream_down');
    assert.equal(await verdict(fresh), 'ok');
    const line = gw.logs.lines.find((l) => l.event === 'signal.applied' && l.eventType === 'stream-updated');
    assert.equal(line?.severity, 'critical');
    const status = (await admin(gw.adminUrl, 'GET', '/signals')).body.transmitters as Record<
      string,
      unknown
    >[];
    assert.equal(status.find((s) => s.name === 'idp')?.up, false);
    assert.equal(status.find((s) => s.name === 'idp')?.stream, 'paused');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /provgate_signals_transmitter_up\{transmitter="idp"\} 0/);
    assert.match(metrics, /provgate_signals_transmitter_up\{transmitter="google"\} 1/);
    await send('stream-updated', { format: 'opaque', id: 'stream-1' }, { status: 'enabled' });
    assert.equal(await verdict(old), 'ok');
  });
});

describe('operations', () => {
  test('the dashboard state shows each transmitter: stream, last event, last error', async () => {
    const res = await admin(gw.adminUrl, 'GET', '/dashboard/api/state');
    assert.equal(res.status, 200);
    const signals = res.body.signals as Record<string, unknown>[];
    const idpRow = signals.find((t) => t.name === 'idp');
    assert.equal(idpRow?.delivery, 'push');
    assert.equal(typeof idpRow?.lastEventAt, 'string');
    assert.equal(typeof idpRow?.up, 'boolean');
  });
});

describe('legacy subjects (legacySubjectType)', () => {
  test('Google-style subject_type inside the event is read by setting', async () => {
    const t = now();
    const old = await token('goog', t - 20);
    const set = await google.sign({
      event: 'sessions-revoked',
      subject: undefined,
      payload: { subject: { subject_type: 'iss-sub', iss: ISS.enterprise, sub: 'goog' } },
    });
    const res = await google.push(`${gw.url}/.well-known/ssf/push`, set);
    assert.equal(res.status, 202, res.body);
    assert.equal(await verdict(old), '401 subject_revoked');
  });

  test('a transmitter without the setting refuses it', async () => {
    const set = await idp.sign({
      event: 'sessions-revoked',
      subject: undefined,
      payload: { subject: { subject_type: 'iss-sub', iss: ISS.enterprise, sub: 'goog' } },
    });
    const res = await idp.push(`${gw.url}/.well-known/ssf/push`, set);
    assert.equal(res.status, 400);
    assert.equal(res.json?.err, 'invalid_request');
  });
});
