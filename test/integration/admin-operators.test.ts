// The admin API with operators: bearer tokens of an issuer of role `operators`, verified by the
// gateway's own pipeline, their role from their scopes, and an audit trail that says who.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import {
  enterpriseClaims,
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import {
  adminAs,
  OPS_AUDIENCE,
  OPS_ISS,
  operatorToken,
  opsKey,
  withOperators,
} from '../helpers/operators.js';
import { ADMIN_TOKEN } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let ring: KeyRing;
let ops: DevKeyPair;
let gw: TestGateway;
let viewer: string;
let operator: string;

function config(dir: string, admin: Record<string, unknown> = {}): Record<string, unknown> {
  return withOperators(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: { protection: { anomalies: {} } },
    }),
    dir,
    ops,
    { metricsRequireToken: true, ...admin },
  );
}

before(async () => {
  upstream = await startUpstream();
  ring = await keyRing();
  ops = await opsKey();
  const dir = tempDir();
  gw = await startTestGateway(config(dir), { dir });
  viewer = await operatorToken(ops, 'vera', 'viewer');
  operator = await operatorToken(ops, 'olga', 'operator', { name: 'Olga Operator' });
});
after(async () => {
  await gw?.close();
  await upstream?.close();
});

const READS = [
  '/revocations',
  '/revocations/audit',
  '/blocks',
  '/events',
  '/metrics',
  '/dashboard/api/state',
] as const;
const CHANGES: readonly ['POST' | 'DELETE', string, unknown][] = [
  ['POST', '/revocations', { kind: 'key', issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' }],
  ['DELETE', '/revocations/key-0000000000000000', undefined],
  ['DELETE', '/blocks/b-0000', undefined],
  ['POST', '/reload', undefined],
];

describe('roles', () => {
  test('a viewer reads every GET endpoint', async () => {
    for (const path of READS) {
      const res = await adminAs(gw.adminUrl, viewer, 'GET', path);
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    }
  });

  test('a viewer is refused every change with 403 insufficient_role, and nothing changes', async () => {
    for (const [method, path, body] of CHANGES) {
      const res = await adminAs(gw.adminUrl, viewer, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.reason, 'insufficient_role', `${method} ${path}`);
      assert.equal(res.body.error, 'insufficient_scope');
      assert.match(res.headers.get('www-authenticate') ?? '', /error_description="insufficient_role"/);
    }
    assert.deepEqual((await adminAs(gw.adminUrl, operator, 'GET', '/revocations')).body.revocations, []);
    assert.equal(gw.running.runtime.current.generation, 1);
    const refused = gw.logs.lines.filter(
      (l) => l.event === 'admin.refused' && l.reason === 'insufficient_role',
    );
    assert.equal(refused.length, CHANGES.length);
    assert.equal(refused[0]!.by, 'vera');
  });

  test('a valid token of the operators issuer granting no role is 403 insufficient_role', async () => {
    const none = await operatorToken(ops, 'nobody', 'none');
    const res = await adminAs(gw.adminUrl, none, 'GET', '/revocations');
    assert.equal(res.status, 403);
    assert.equal(res.body.reason, 'insufficient_role');
  });

  test('an operator may change state: reload', async () => {
    const res = await adminAs(gw.adminUrl, operator, 'POST', '/reload');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.applied, true);
  });
});

describe('the audit trail says who', () => {
  test("an operator's revocation is recorded with its sub as by, whatever the body says", async () => {
    const res = await adminAs(gw.adminUrl, operator, 'POST', '/revocations', {
      kind: 'token',
      issuer: 'enterprise',
      jti: 'stolen-jti',
      reason: 'leaked',
      by: 'mallory',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.by, 'olga');
    assert.equal(res.body.byIssuer, 'ops');
    assert.equal(res.body.note, 'mallory');
    assert.equal(res.body.source, 'api');
    const id = String(res.body.id);
    const lifted = await adminAs(gw.adminUrl, operator, 'DELETE', `/revocations/${id}`);
    assert.equal(lifted.status, 200);
    const trail = (await adminAs(gw.adminUrl, viewer, 'GET', '/revocations/audit')).body.audit as {
      op: string;
      by: string;
      id?: string;
      record?: { id: string };
    }[];
    const mine = trail.filter((e) => (e.record?.id ?? e.id) === id);
    assert.deepEqual(
      mine.map((e) => [e.op, e.by]),
      [
        ['add', 'olga'],
        ['remove', 'olga'],
      ],
    );
  });
});

describe('operator tokens go through the gateway pipeline', () => {
  const refusals: [string, () => Promise<string>, string][] = [
    ['an expired token', () => operatorToken(ops, 'olga', 'operator', { exp: 1_000_000 }), 'token_expired'],
    [
      'a token of another configured issuer',
      () => sign(ring.enterprise, enterpriseClaims({ aud: OPS_AUDIENCE, scp: 'provgate.admin' })),
      'issuer_not_accepted',
    ],
    [
      'a token for another audience',
      () => operatorToken(ops, 'olga', 'operator', { aud: 'https://mail.example.test' }),
      'audience_mismatch',
    ],
    [
      'the operators iss signed with another issuer’s key (Storm-0558)',
      () => sign(ring.enterpriseEs, { iss: OPS_ISS, sub: 'olga', aud: OPS_AUDIENCE, scp: 'provgate.admin' }),
      'key_issuer_mismatch',
    ],
    [
      'a key in no set',
      async () =>
        sign(await generateDevKey('ES256', 'nowhere-1'), {
          iss: OPS_ISS,
          sub: 'olga',
          aud: OPS_AUDIENCE,
          scp: 'provgate.admin',
        }),
      'unknown_key',
    ],
    ['the static token, off while operators are configured', async () => ADMIN_TOKEN, 'malformed_token'],
    [
      'a delegated token',
      () => operatorToken(ops, 'olga', 'operator', { act: { sub: 'robot' } }),
      'delegation_not_allowed',
    ],
  ];
  for (const [name, token, reason] of refusals) {
    test(`${name}: 401 ${reason}`, async () => {
      const res = await adminAs(gw.adminUrl, await token(), 'GET', '/revocations');
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.deepEqual(res.body, { error: 'invalid_token', reason });
      assert.match(res.headers.get('www-authenticate') ?? '', new RegExp(`error_description="${reason}"`));
    });
  }

  test('the forged operator token is a critical event naming the forgery', async () => {
    const forged = gw.logs.lines.filter(
      (l) => l.event === 'admin.refused' && l.reason === 'key_issuer_mismatch',
    );
    assert.equal(forged.at(-1)?.severity, 'critical');
    assert.equal(forged.at(-1)?.signatureValid, true);
  });

  test('no header: 401 missing_token with the bare challenge', async () => {
    const res = await adminAs(gw.adminUrl, null, 'GET', '/revocations');
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'invalid_token', reason: 'missing_token' });
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="provgate-admin"');
  });

  test('an operator token opens no proxy route: no route accepts an issuer of role operators', async () => {
    const res = await get(`${gw.url}/api/mail/messages`, operator);
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'audience_mismatch');
    const sameAudience = await operatorToken(ops, 'olga', 'operator', {
      aud: 'https://mail.example.test',
      scp: 'Mail.Read',
    });
    assert.equal((await get(`${gw.url}/api/mail/messages`, sameAudience)).body.reason, 'issuer_not_accepted');
  });

  test('a revoked operator token, subject or key is refused', async () => {
    const oscar = await operatorToken(ops, 'oscar', 'operator', { jti: 'oscar-1' });
    assert.equal((await adminAs(gw.adminUrl, oscar, 'GET', '/revocations')).status, 200);
    const revoked = await adminAs(gw.adminUrl, operator, 'POST', '/revocations', {
      kind: 'token',
      issuer: 'ops',
      jti: 'oscar-1',
    });
    assert.equal(revoked.status, 201);
    const res = await adminAs(gw.adminUrl, oscar, 'GET', '/revocations');
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'token_revoked');
  });
});

describe('the static token as break-glass', () => {
  test('with allowStaticToken it works, by is static-token, and each use is a high event', async () => {
    writeFileSync(
      join(gw.dir, 'gateway.yaml'),
      stringify(config(gw.dir, { token: ADMIN_TOKEN, allowStaticToken: true })),
    );
    assert.equal((await adminAs(gw.adminUrl, operator, 'POST', '/reload')).status, 200);
    const res = await adminAs(gw.adminUrl, ADMIN_TOKEN, 'POST', '/revocations', {
      kind: 'subject',
      issuer: 'enterprise',
      sub: 'alice',
      before: '2023-07-03T00:00:00Z',
      by: 'on-call',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.by, 'static-token');
    assert.equal(res.body.byIssuer, undefined);
    assert.equal(res.body.note, 'on-call');
    const used = gw.logs.lines.filter((l) => l.event === 'admin.static_token_used');
    assert.equal(used.length, 1);
    assert.equal(used[0]!.severity, 'high');
    assert.equal(used[0]!.path, '/revocations');
    const events = (await adminAs(gw.adminUrl, viewer, 'GET', '/events')).body.events as {
      event: { event: string };
    }[];
    assert.ok(events.some((e) => e.event.event === 'admin.static_token_used'));
    // Operators still sign in as before.
    assert.equal((await adminAs(gw.adminUrl, viewer, 'GET', '/revocations')).status, 200);
    assert.ok(!gw.logs.text.includes(ADMIN_TOKEN), 'the static token is never logged');
    assert.ok(!gw.logs.text.includes(operator), 'an operator token is never logged');
  });
});
