// The lineage step on its own: real verified tokens, a memory lineage store, no I/O. Each rule at
// use gets its case: no record, another token under the jti, and every way an ancestor falls.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { before, describe, test } from 'node:test';
import type { StoreConfig } from '../../../src/config/schema.js';
import { keySetOf } from '../../../src/keys/issuer-registry.js';
import { type LineageRecord, lineageId } from '../../../src/lineage/lineage-record.js';
import { LineageService } from '../../../src/lineage/lineage-service.js';
import { MemoryLineageStore } from '../../../src/lineage/memory-lineage-store.js';
import { createLogger } from '../../../src/observability/logger.js';
import { makeRecord, type RevocationSpec } from '../../../src/revocation/revocation-record.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { LineageCheck } from '../../../src/verify/check-lineage.js';
import type { VerifiedToken } from '../../../src/verify/verify-token.js';
import {
  compiledRoute,
  NOW_MS,
  NOW_S,
  type TokenFixture,
  tokenFixture,
} from '../../helpers/verified-token.js';

const STORE: StoreConfig = {
  kind: 'memory',
  prefix: 'unit:',
  onUnavailable: 'serve-stale',
  maxStaleSeconds: 60,
  resyncSeconds: 5,
  lookupTimeoutMs: 250,
  writeTimeoutMs: 2000,
};

let fx: TokenFixture;
/** The `mail` route accepting owa with the given lineage setting. */
function routeWith(mode: 'monitor' | 'required') {
  const r = compiledRoute({ issuers: ['enterprise', 'owa'] });
  return { ...r, lineage: new Map([['owa', mode]] as const) };
}

function recordOf(child: VerifiedToken, parent: VerifiedToken): LineageRecord {
  return {
    id: lineageId('owa', child.claims.jti!),
    child: {
      issuer: 'owa',
      jti: child.claims.jti!,
      sub: child.claims.sub!,
      iat: child.claims.iat!,
      exp: child.claims.exp!,
      kid: child.key.kid,
      fingerprint: child.fingerprint,
      kind: 'access_token',
    },
    ancestors: [
      {
        issuer: parent.issuer.id,
        jti: parent.claims.jti,
        sub: parent.claims.sub!,
        iat: parent.claims.iat!,
        exp: parent.claims.exp!,
        kid: parent.key.kid,
        keyThumbprint: parent.key.thumbprint,
        fingerprint: parent.fingerprint,
        sid: 'session-1',
      },
    ],
    route: 'token',
    at: new Date(NOW_MS).toISOString(),
    by: 'test',
    expiresAt: (child.claims.exp! + 60) * 1000,
  };
}

interface Setup {
  readonly check: LineageCheck;
  readonly lineage: LineageService;
  readonly child: VerifiedToken;
  readonly parent: VerifiedToken;
  readonly logs: string[];
}

async function setup(): Promise<Setup> {
  fx = await tokenFixture();
  const logs: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _e, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const lineage = new LineageService({
    store: new MemoryLineageStore(),
    storeConfig: STORE,
    logger,
    clock: () => NOW_MS,
  });
  const parent = await fx.verified({
    jti: `p-${Math.random()}`,
    exp: NOW_S + 600,
    scp: 'Mail.Read Mail.Send',
  });
  const child = await fx.verified({ jti: `c-${Math.random()}`, exp: NOW_S + 600, scp: 'Mail.Read' }, 'owa');
  assert.equal((await lineage.record([recordOf(child, parent)])).kind, 'stored');
  const check = new LineageCheck({
    lineage,
    revocations: fx.revocations,
    registry: () => fx.registry,
    logger,
  });
  return { check, lineage, child, parent, logs };
}

function refusal(fn: () => unknown): { reason: string; note: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthFailure, String(err));
    return { reason: err.reason, note: err.detail.note ?? '' };
  }
  return { reason: 'passed', note: '' };
}

function revoke(spec: RevocationSpec): void {
  fx.revocations.apply(makeRecord(spec, { by: 'test', source: 'api', now: NOW_MS, clockSkewSeconds: 0 }));
}

describe('the lineage step', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });

  test('a route without lineage settings does nothing, whatever the token', () => {
    assert.equal(
      s.check.check(s.child, compiledRoute({ issuers: ['enterprise', 'owa'] }), NOW_MS),
      undefined,
    );
  });

  test('a recorded child whose parent stands passes, with no I/O owed', () => {
    assert.equal(s.check.check(s.child, routeWith('required'), NOW_MS), undefined);
  });

  test('a token of an issuer without lineage on the route passes', () => {
    assert.equal(s.check.check(s.parent, routeWith('required'), NOW_MS), undefined);
  });

  test('no record: lineage_unknown (no_record); no jti: lineage_unknown (no_jti)', async () => {
    const rogue = await fx.verified({ jti: 'rogue-1' }, 'owa');
    assert.deepEqual(
      refusal(() => s.check.check(rogue, routeWith('required'), NOW_MS)).reason,
      'lineage_unknown',
    );
    const anonymous = await fx.verified({ jti: undefined }, 'owa');
    const r = refusal(() => s.check.check(anonymous, routeWith('required'), NOW_MS));
    assert.equal(r.reason, 'lineage_unknown');
    assert.match(r.note, /^no_jti/);
  });

  test('another token under a recorded jti: lineage_unknown (fingerprint_mismatch)', async () => {
    const twin = await fx.verified({ jti: s.child.claims.jti, scp: 'Mail.Read Mail.Send' }, 'owa');
    const r = refusal(() => s.check.check(twin, routeWith('required'), NOW_MS));
    assert.equal(r.reason, 'lineage_unknown');
    assert.match(r.note, /^fingerprint_mismatch/);
  });

  test('monitor: the same refusal is a log line and the token passes', async () => {
    const rogue = await fx.verified({ jti: 'rogue-2' }, 'owa');
    assert.equal(s.check.check(rogue, routeWith('monitor'), NOW_MS), undefined);
    assert.match(s.logs.at(-1)!, /"event":"lineage.monitor".*"reason":"lineage_unknown"/);
  });
});

describe('an ancestor that no longer stands: parent_revoked naming the rule', () => {
  const cases: [string, (s: Setup) => void][] = [
    ['token_revoked', (s) => revoke({ kind: 'token', issuer: 'enterprise', jti: s.parent.claims.jti! })],
    ['session_revoked', () => revoke({ kind: 'session', issuer: 'enterprise', sid: 'session-1' })],
    [
      'subject_revoked',
      () =>
        revoke({
          kind: 'subject',
          issuer: 'enterprise',
          sub: 'alice',
          before: new Date(NOW_MS).toISOString(),
        }),
    ],
    [
      'issuer_revoked',
      () => revoke({ kind: 'issuer', issuer: 'enterprise', before: new Date(NOW_MS).toISOString() }),
    ],
    ['key_revoked', (s) => revoke({ kind: 'key', issuer: 'enterprise', kid: s.parent.key.kid })],
    ['key_unknown', () => fx.registry.replaceKeys('enterprise', keySetOf([]))],
    [
      'key_inactive',
      (s) => fx.registry.replaceKeys('enterprise', keySetOf([{ ...s.parent.key, notAfter: NOW_MS - 1 }])),
    ],
    [
      'key_quarantined',
      (s) =>
        fx.registry.replaceKeys('enterprise', keySetOf([{ ...s.parent.key, alsoClaimedBy: 'consumer' }])),
    ],
  ];
  for (const [rule, fall] of cases) {
    test(rule, async () => {
      const s = await setup();
      assert.equal(s.check.check(s.child, routeWith('required'), NOW_MS), undefined, 'stands before');
      fall(s);
      const r = refusal(() => s.check.check(s.child, routeWith('required'), NOW_MS));
      assert.equal(r.reason, 'parent_revoked');
      assert.ok(r.note.startsWith(`${rule}: ancestor 1/1 enterprise jti=${s.parent.claims.jti}`), r.note);
    });
  }

  test('parent_expired, once past the parent issuer’s skew', async () => {
    const s = await setup();
    const later = (s.parent.claims.exp! + 60) * 1000;
    assert.equal(s.check.check(s.child, routeWith('required'), later - 1), undefined);
    assert.match(refusal(() => s.check.check(s.child, routeWith('required'), later)).note, /^parent_expired/);
  });
});
