// Two gateways on one real Redis: an operator revoked on one instance is locked out of the admin
// API of every instance, because operator tokens go through the same mirrored revocations.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DevKeyPair } from '../../src/demo/dev-keys.js';
import {
  type KeyRing,
  keyRing,
  referenceConfig,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { adminAs, operatorToken, opsKey, withOperators } from '../helpers/operators.js';
import { waitFor } from '../helpers/poll.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { provgate } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let redis: TestRedis;
let upstream: Upstream;
let ring: KeyRing;
let ops: DevKeyPair;
let a: TestGateway;
let b: TestGateway;
let olga: string;

async function instance(adminPort = 0): Promise<TestGateway> {
  const dir = tempDir();
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { store: { kind: 'redis', url: redis.url, prefix: 'admin-cluster:' }, log: { level: 'info' } },
  });
  return startTestGateway(withOperators(config, dir, ops, { port: adminPort }), { dir });
}

/** The status and reason `token` gets from `gw`'s admin API. */
async function verdict(gw: TestGateway, token: string): Promise<string> {
  const res = await adminAs(gw.adminUrl, token, 'GET', '/revocations');
  return res.status === 200 ? 'ok' : `${res.status} ${String(res.body.reason)}`;
}

before(async () => {
  redis = await startRedis();
  upstream = await startUpstream();
  ring = await keyRing();
  ops = await opsKey();
  // The CLI finds A's admin API through the config file: a fixed port.
  a = await instance(await freePort());
  b = await instance();
  olga = await operatorToken(ops, 'olga', 'operator');
});
after(async () => {
  await a?.close();
  await b?.close();
  await upstream?.close();
  await redis?.close();
});

test("an operator's token revoked on one instance is refused on every instance", async () => {
  const oscar = await operatorToken(ops, 'oscar', 'operator', { jti: 'oscar-laptop' });
  assert.equal(await verdict(a, oscar), 'ok');
  assert.equal(await verdict(b, oscar), 'ok');
  const res = await adminAs(a.adminUrl, olga, 'POST', '/revocations', {
    kind: 'token',
    issuer: 'ops',
    jti: 'oscar-laptop',
    reason: 'laptop stolen',
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.by, 'olga');
  assert.equal(await verdict(a, oscar), '401 token_revoked');
  const ms = await waitFor(async () => (await verdict(b, oscar)) === '401 token_revoked', {
    timeoutMs: 1000,
    message: 'the other instance to refuse the revoked operator token',
  });
  assert.ok(ms < 1000);
  // The revoked operator can no more lift its own revocation than anyone else's.
  const undo = await adminAs(b.adminUrl, oscar, 'DELETE', `/revocations/${String(res.body.id)}`);
  assert.equal(undo.status, 401);
  assert.equal(await verdict(b, olga), 'ok');
});

test('a subject revocation locks every token of that operator out of every instance', async () => {
  const phone = await operatorToken(ops, 'petra', 'operator', { iat: Math.floor(Date.now() / 1000) - 60 });
  const laptop = await operatorToken(ops, 'petra', 'viewer', { iat: Math.floor(Date.now() / 1000) - 30 });
  assert.equal(await verdict(b, phone), 'ok');
  const res = await adminAs(b.adminUrl, olga, 'POST', '/revocations', {
    kind: 'subject',
    issuer: 'ops',
    sub: 'petra',
    before: new Date().toISOString(),
  });
  assert.equal(res.status, 201);
  for (const gw of [a, b]) {
    for (const token of [phone, laptop]) {
      await waitFor(async () => (await verdict(gw, token)) === '401 subject_revoked', { timeoutMs: 1000 });
    }
  }
  const refused = a.logs.lines.filter((l) => l.event === 'admin.refused' && l.reason === 'subject_revoked');
  assert.ok(refused.some((l) => l.sub === 'petra'));
});

test('with operators the CLI goes through the gateway with the token of --token-file, even with the Redis store', async () => {
  const file = join(a.dir, 'olga.token');
  writeFileSync(file, `${olga}\n`, { mode: 0o600 });
  const config = join(a.dir, 'gateway.yaml');
  const revoked = await provgate(
    'revoke token',
    { issuer: 'enterprise', jti: 'cli-jti', reason: 'leaked', 'token-file': file },
    config,
  );
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /^revoked: token cli-jti of enterprise {2}id=token-\w+\n$/);
  const records = (await adminAs(b.adminUrl, olga, 'GET', '/revocations')).body.revocations as Record<
    string,
    unknown
  >[];
  const record = records.find((r) => r.jti === 'cli-jti');
  assert.equal(record?.by, 'olga');
  assert.equal(record?.byIssuer, 'ops');
  assert.match(String(record?.note), /^cli:/);
  const list = await provgate('revocations list', { 'token-file': file }, config);
  assert.match(
    list.stdout,
    /by olga@ops \(cli\) {2}token cli-jti of enterprise {2}reason: leaked {2}note: cli:/,
  );

  const viewerFile = join(a.dir, 'vera.token');
  writeFileSync(viewerFile, await operatorToken(ops, 'vera', 'viewer'), { mode: 0o600 });
  const refused = await provgate(
    'revoke token',
    { issuer: 'enterprise', jti: 'other', 'token-file': viewerFile },
    config,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /gateway refused \(403\).*insufficient_role/);
  const none = await provgate('revoke token', { issuer: 'enterprise', jti: 'other' }, config);
  assert.equal(none.code, 1);
  assert.match(
    none.stderr,
    /operator token of issuer ops: pass --token-file FILE or set PROVGATE_ADMIN_TOKEN/,
  );
});

test("revoking the operators issuer's key locks every operator out of every instance", async () => {
  const res = await adminAs(a.adminUrl, olga, 'POST', '/revocations', {
    kind: 'key',
    issuer: 'ops',
    kid: 'ops-1',
  });
  assert.equal(res.status, 201);
  await waitFor(async () => (await verdict(b, olga)) === '401 key_revoked', { timeoutMs: 1000 });
  assert.equal(await verdict(a, olga), '401 key_revoked');
  assert.equal(await verdict(a, await operatorToken(ops, 'new-token', 'operator')), '401 key_revoked');
});
