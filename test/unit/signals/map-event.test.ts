// The mapping table of the README's "Shared signals", row by row, as a pure function: what a valid
// SET makes the gateway do, without a server, a store or a clock of its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IssuerRegistry } from '../../../src/keys/issuer-registry.js';
import type { BlockRule, CompiledTransmitter } from '../../../src/signals/compile-signals.js';
import type { BlockingEvent } from '../../../src/signals/event-types.js';
import { EVENT_URIS, type EventName } from '../../../src/signals/event-types.js';
import { mapEvent, type SignalAction } from '../../../src/signals/map-event.js';
import { SetError } from '../../../src/signals/set-error.js';
import { parseSubjectId, type SubjectId } from '../../../src/signals/subject-id.js';
import type { ValidSet } from '../../../src/signals/validate-set.js';
import { compiledIssuer, ENTERPRISE_ISS } from '../../helpers/compiled-issuer.js';

const NOW_MS = Date.parse('2026-12-01T12:00:00Z');
const NOW = NOW_MS / 1000;
const IDP = 'https://idp.example.test';

const registry = new IssuerRegistry([
  compiledIssuer({ maxTokenLifetimeSeconds: 3600 }),
  compiledIssuer({ id: 'consumer', iss: 'https://login.example.test/consumer/v2.0' }),
]);
const transmitter = {
  name: 'idp',
  iss: IDP,
  governs: ['enterprise'],
  clockSkewSeconds: 60,
  criticalMembers: new Set<string>(),
} as unknown as CompiledTransmitter;

function setOf(
  event: EventName | string,
  subject: SubjectId | undefined,
  payload: Record<string, unknown> = {},
): ValidSet {
  const name = (Object.keys(EVENT_URIS) as EventName[]).find((n) => n === event);
  return {
    transmitter,
    jti: 'jti-1',
    iat: NOW - 5,
    eventUri: name === undefined ? event : EVENT_URIS[name],
    eventName: name,
    event: payload,
    subject,
    txn: undefined,
    kid: 'k1',
    fingerprint: '0123456789abcdef',
  };
}

const blockOn = new Map<BlockingEvent, BlockRule>([
  ['risk-level-change', { values: new Set(['HIGH']), routes: new Set(['mail']) }],
]);

function actions(set: ValidSet): SignalAction[] {
  return [...mapEvent(set, { tokenIssuers: registry, blockOn, nowMs: NOW_MS }).actions];
}

const alice = parseSubjectId(
  { format: 'iss_sub', iss: ENTERPRISE_ISS, sub: 'alice' },
  { legacySubjectType: false },
);

describe('subjects name tokens of the governed issuers only', () => {
  test('iss_sub of a governed issuer; of the transmitter itself; of an issuer it does not govern', () => {
    assert.deepEqual(actions(setOf('session-revoked', alice, { event_timestamp: NOW - 10 })), [
      { do: 'watermark', issuerId: 'enterprise', sub: 'alice', at: NOW - 10 },
    ]);
    const own = parseSubjectId({ format: 'iss_sub', iss: IDP, sub: 'bob' }, { legacySubjectType: false });
    assert.deepEqual(actions(setOf('session-revoked', own)), [
      { do: 'watermark', issuerId: 'enterprise', sub: 'bob', at: NOW - 5 },
    ]);
    const foreign = parseSubjectId(
      { format: 'iss_sub', iss: 'https://login.example.test/consumer/v2.0', sub: 'zoe' },
      { legacySubjectType: false },
    );
    const plan = mapEvent(setOf('session-revoked', foreign), {
      tokenIssuers: registry,
      blockOn,
      nowMs: NOW_MS,
    });
    assert.deepEqual(plan.actions, []);
    assert.match(String(plan.ignored), /governs/);
  });

  test('a session: opaque or complex, revoked until the longest token of the issuer is dead', () => {
    const complex = parseSubjectId(
      { format: 'complex', user: { format: 'email', email: 'a@x' }, session: { format: 'opaque', id: 's1' } },
      { legacySubjectType: false },
    );
    assert.deepEqual(actions(setOf('session-revoked', complex, { event_timestamp: NOW - 10 })), [
      { do: 'revoke-session', issuerId: 'enterprise', sid: 's1', exp: NOW - 10 + 3600 },
    ]);
    const opaque = parseSubjectId({ format: 'opaque', id: 's2' }, { legacySubjectType: false });
    assert.equal(actions(setOf('session-revoked', opaque))[0]?.do, 'revoke-session');
  });

  test('an event_timestamp ahead of the clock is capped at now plus the skew', () => {
    assert.deepEqual(actions(setOf('session-revoked', alice, { event_timestamp: NOW + 86_400 })), [
      { do: 'watermark', issuerId: 'enterprise', sub: 'alice', at: NOW + 60 },
    ]);
  });
});

describe('each event type', () => {
  test('credential-change: revoke, update, delete raise the watermark; create does nothing', () => {
    for (const change_type of ['revoke', 'update', 'delete'])
      assert.equal(
        actions(setOf('credential-change', alice, { credential_type: 'pin', change_type }))[0]?.do,
        'watermark',
      );
    const created = mapEvent(
      setOf('credential-change', alice, {
        credential_type: 'pin',
        change_type: 'create',
        initiating_entity: 'admin',
      }),
      {
        tokenIssuers: registry,
        blockOn,
        nowMs: NOW_MS,
      },
    );
    assert.deepEqual(created.actions, []);
    assert.equal(created.severity, 'high', 'a credential added by someone else is worth a look');
  });

  test('token-claims-change: a jwt_id subject revokes that token, a user subject the watermark', () => {
    const jwt = parseSubjectId(
      { format: 'jwt_id', iss: ENTERPRISE_ISS, jti: 't1' },
      { legacySubjectType: false },
    );
    assert.deepEqual(actions(setOf('token-claims-change', jwt, { claims: {} })), [
      { do: 'revoke-token', issuerId: 'enterprise', jti: 't1', exp: Math.ceil(NOW - 5) + 3600 },
    ]);
    assert.equal(actions(setOf('token-claims-change', alice, { claims: {} }))[0]?.do, 'watermark');
    assert.throws(() => actions(setOf('token-claims-change', alice)), SetError);
  });

  test('RISC account events and credential-compromise', () => {
    assert.equal((actions(setOf('account-disabled', alice))[0] as { state: string }).state, 'disabled');
    assert.equal((actions(setOf('account-enabled', alice))[0] as { state: string }).state, 'enabled');
    assert.equal((actions(setOf('account-purged', alice))[0] as { state: string }).state, 'purged');
    const compromise = mapEvent(setOf('credential-compromise', alice, { credential_type: 'password' }), {
      tokenIssuers: registry,
      blockOn,
      nowMs: NOW_MS,
    });
    assert.equal(compromise.severity, 'critical');
    assert.equal(compromise.actions[0]?.do, 'watermark');
    assert.equal(actions(setOf('sessions-revoked', alice))[0]?.do, 'watermark');
  });

  test('risk-level-change blocks on HIGH and lifts otherwise; without a rule it is recorded only', () => {
    const high = actions(setOf('risk-level-change', alice, { principal: 'USER', current_level: 'HIGH' }));
    assert.equal((high[0] as { blocked: boolean }).blocked, true);
    const low = actions(setOf('risk-level-change', alice, { principal: 'USER', current_level: 'LOW' }));
    assert.equal((low[0] as { blocked: boolean }).blocked, false);
    const device = mapEvent(
      setOf('device-compliance-change', alice, {
        previous_status: 'compliant',
        current_status: 'not-compliant',
      }),
      {
        tokenIssuers: registry,
        blockOn,
        nowMs: NOW_MS,
      },
    );
    assert.deepEqual(device.actions, []);
    assert.match(String(device.ignored), /no signals.blockOn.device-compliance-change/);
  });

  test('stream-updated and verification; an unknown type is ignored, never guessed', () => {
    const paused = mapEvent(setOf('stream-updated', undefined, { status: 'paused' }), {
      tokenIssuers: registry,
      blockOn,
      nowMs: NOW_MS,
    });
    assert.equal(paused.severity, 'critical');
    assert.equal(paused.actions[0]?.do, 'stream');
    assert.throws(() => actions(setOf('stream-updated', undefined, { status: 'gone' })), SetError);
    assert.deepEqual(actions(setOf('verification', undefined, { state: 'abc' })), [
      { do: 'verification', state: 'abc' },
    ]);
    const unknown = mapEvent(setOf('https://example.test/x', alice), {
      tokenIssuers: registry,
      blockOn,
      nowMs: NOW_MS,
    });
    assert.deepEqual(unknown.actions, []);
    assert.match(String(unknown.ignored), /unknown event type/);
  });
});

describe('critical subject members (SSF 1.0 section 3.6)', () => {
  test('a critical member the receiver does not act on discards the event', () => {
    const strict = { ...transmitter, criticalMembers: new Set(['device']) } as CompiledTransmitter;
    const withDevice = parseSubjectId(
      { format: 'complex', user: alice, device: { format: 'opaque', id: 'd1' } },
      { legacySubjectType: false },
    );
    const discarded = mapEvent(
      { ...setOf('session-revoked', withDevice), transmitter: strict },
      {
        tokenIssuers: registry,
        blockOn,
        nowMs: NOW_MS,
      },
    );
    assert.deepEqual(discarded.actions, []);
    assert.match(String(discarded.ignored), /critical member device/);
    // The same subject from a transmitter that declares no critical member: the user is revoked.
    assert.equal(actions(setOf('session-revoked', withDevice))[0]?.do, 'watermark');
  });
});

describe('subject identifiers (RFC 9493, SSF 1.0 section 3)', () => {
  test('legacy subject_type only by setting; a nested complex is refused', () => {
    const legacy = { subject_type: 'iss-sub', iss: ENTERPRISE_ISS, sub: 'a' };
    assert.deepEqual(parseSubjectId(legacy, { legacySubjectType: true }), {
      format: 'iss_sub',
      iss: ENTERPRISE_ISS,
      sub: 'a',
    });
    assert.throws(() => parseSubjectId(legacy, { legacySubjectType: false }), SetError);
    assert.throws(
      () => parseSubjectId({ format: 'complex', user: { format: 'complex' } }, { legacySubjectType: false }),
      SetError,
    );
    assert.deepEqual(
      parseSubjectId({ format: 'phone_number', phone_number: '+1' }, { legacySubjectType: false }),
      {
        format: 'other',
        name: 'phone_number',
      },
    );
  });
});
