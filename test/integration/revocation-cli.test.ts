// `provgate revoke | revocations list | unrevoke` run as child processes, as an operator runs them.
// With the Redis store the CLI writes to Redis itself (no gateway needed); with the memory
// store it goes through the running gateway's admin API.
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
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
import { waitFor } from '../helpers/poll.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import {
  admin,
  instant,
  listed,
  provgate,
  redisStore,
  verdict,
  writeConfigFile,
} from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const NOW = Math.floor(Date.now() / 1000);
const USER = userInfo().username;

let upstream: Upstream;
let ring: KeyRing;

function consumerClaims(extra: JWTPayload = {}): JWTPayload {
  return { iss: ISS.consumer, sub: 'zoe', aud: AUDIENCE, scp: 'Mail.Read', ...extra };
}

/** The id the CLI printed after `id=`. */
function printedId(stdout: string): string {
  const match = /id=(\S+)/.exec(stdout);
  assert.ok(match, stdout);
  return match[1]!;
}

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
});
after(async () => upstream?.close());

describe('with the Redis store', () => {
  let redis: TestRedis;
  let inspect: Redis;
  let dir: string;
  let config: Record<string, unknown>;
  let configPath: string;
  let gw: TestGateway | undefined;
  const ids: Record<string, string> = {};

  before(async () => {
    redis = await startRedis();
    inspect = new Redis(redis.url);
    dir = tempDir();
    config = referenceConfig(dir, ring, {
      upstream: upstream.url,
      extra: {
        store: redisStore(redis.url, 'pg-cli:', { resyncSeconds: 60 }),
        revocations: { tokens: [{ issuer: 'enterprise', jti: 'cfg-jti', reason: 'from the file' }] },
      },
    });
    configPath = writeConfigFile(dir, 'gateway.yaml', config);
  });
  after(async () => {
    await gw?.close();
    inspect?.disconnect();
    await redis?.close();
  });

  test('revoke key|token|subject|issuer writes to Redis with no gateway running', async () => {
    const runs = await Promise.all([
      provgate('revoke key', { issuer: 'consumer', kid: 'msa-2016', reason: 'stolen' }, configPath),
      provgate('revoke token', { issuer: 'enterprise', jti: 'cli-jti', exp: String(NOW + 3600) }, configPath),
      provgate(
        'revoke subject',
        { issuer: 'enterprise', sub: 'carol', before: instant(NOW - 600), reason: 'phished' },
        configPath,
      ),
      provgate(
        'revoke issuer',
        { issuer: 'enterprise', before: instant(NOW - 3600), reason: 'keys replaced' },
        configPath,
      ),
    ]);
    for (const [i, kind] of ['key', 'token', 'subject', 'issuer'].entries()) {
      const run = runs[i]!;
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^revoked: .+ id=\S+\n$/);
      ids[kind] = printedId(run.stdout);
      const stored = JSON.parse(String(await inspect.hget('pg-cli:{rev}:records', ids[kind]))) as Record<
        string,
        unknown
      >;
      assert.equal(stored.kind, kind);
      assert.equal(stored.source, 'cli');
      assert.equal(stored.by, `cli:${USER}`);
    }
    assert.match(runs[0]!.stdout, /revoked: key msa-2016 of consumer/);
  });

  test('a gateway started afterwards refuses each kind with its reason', async () => {
    gw = await startTestGateway(config, { dir });
    const v = (token: string) => verdict(gw!, token);
    assert.equal(await v(await sign(ring.consumer, consumerClaims())), '401 key_revoked');
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ jti: 'cli-jti' }))),
      '401 token_revoked',
    );
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ jti: 'cfg-jti' }))),
      '401 token_revoked',
    );
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'carol', iat: NOW - 1200 }))),
      '401 subject_revoked',
    );
    assert.equal(await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'carol', iat: NOW }))), 'ok');
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'dave', iat: NOW - 7200 }))),
      '401 issuer_revoked',
    );
    assert.equal(
      await v(await sign(ring.enterprise, enterpriseClaims({ sub: 'dave', iat: NOW - 1200 }))),
      'ok',
    );
  });

  test('a CLI revocation reaches a running gateway; a repeat says so; list shows who, when and why', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'live-jti' }));
    assert.equal(await verdict(gw!, token), 'ok');
    const revokeLive = () =>
      provgate('revoke token', { issuer: 'enterprise', jti: 'live-jti', reason: 'leaked' }, configPath);
    const run = await revokeLive();
    assert.equal(run.code, 0, run.stderr);
    const ms = await waitFor(async () => (await verdict(gw!, token)) === '401 token_revoked', {
      timeoutMs: 1000,
      message: 'the gateway to refuse',
    });
    assert.ok(ms < 1000);
    ids.live = printedId(run.stdout);

    const [again, list] = await Promise.all([revokeLive(), provgate('revocations list', {}, configPath)]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^already revoked: token live-jti of enterprise {2}id=/);

    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.equal(lines.length, 6, list.stdout);
    const line = (id: string) =>
      lines.find((l) => l.startsWith(`${id}  `)) ?? assert.fail(`${id} not listed`);
    assert.match(
      line(ids.key!),
      new RegExp(`^key-\\w+  \\S+Z  by cli:${USER} \\(cli\\)  key msa-2016 of consumer  reason: stolen$`),
    );
    assert.match(line(ids.subject!), /subject carol of enterprise before .+ {2}reason: phished$/);
    assert.match(line(ids.live!), /token live-jti of enterprise {2}reason: leaked$/);
    assert.ok(
      lines.some((l) =>
        / by config \(config\) {2}token cfg-jti of enterprise {2}reason: from the file$/.test(l),
      ),
    );
  });

  test('unrevoke lifts a revocation everywhere; one from the config file is refused, and so are bad arguments', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'live-jti' }));
    const configId = ((await listed(gw!)).find((r) => r.jti === 'cfg-jti') ?? assert.fail('cfg-jti')).id;
    const [lifted, refused, noBefore] = await Promise.all([
      provgate(`unrevoke ${ids.live}`, {}, configPath),
      provgate(`unrevoke ${String(configId)}`, {}, configPath),
      provgate('revoke subject', { issuer: 'enterprise', sub: 'x' }, configPath),
    ]);
    assert.equal(lifted.code, 0, lifted.stderr);
    assert.equal(lifted.stdout, 'lifted: token live-jti of enterprise\n');
    await waitFor(async () => (await verdict(gw!, token)) === 'ok', {
      timeoutMs: 1000,
      message: 'the gateway to accept again',
    });
    const audit = JSON.parse(String(await inspect.lindex('pg-cli:{rev}:audit', -1))) as Record<
      string,
      unknown
    >;
    assert.deepEqual([audit.op, audit.id, audit.by], ['remove', ids.live, `cli:${USER}`]);

    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      /^provgate: revocation token-\w+ comes from the configuration file; remove it there instead\n$/,
    );
    assert.equal(
      await verdict(gw!, await sign(ring.enterprise, enterpriseClaims({ jti: 'cfg-jti' }))),
      '401 token_revoked',
    );
    // The admin API says the same in Redis mode.
    assert.equal((await admin(gw!.adminUrl, 'DELETE', `/revocations/${String(configId)}`)).status, 409);

    assert.equal(noBefore.code, 1);
    assert.match(noBefore.stderr, /^provgate: --before: /);
  });
});

describe('with the memory store', () => {
  let gw: TestGateway;
  let configPath: string;
  let dir: string;
  let config: Record<string, unknown>;

  before(async () => {
    dir = tempDir();
    // The CLI finds the gateway through admin.host/port in the file: no port 0 here.
    const base = referenceConfig(dir, ring, { upstream: upstream.url });
    config = { ...base, admin: { ...(base.admin as object), port: await freePort() } };
    gw = await startTestGateway(config, { dir });
    configPath = join(dir, 'gateway.yaml');
  });
  after(async () => gw?.close());

  test('revoke, list and unrevoke go through the running gateway admin API', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ jti: 'mem-jti' }));
    assert.equal(await verdict(gw, token), 'ok');
    const revoked = await provgate(
      'revoke token',
      { issuer: 'enterprise', jti: 'mem-jti', reason: 'leaked' },
      configPath,
    );
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /^revoked: token mem-jti of enterprise {2}id=token-\w+\n$/);
    // Exit 0 means the gateway has stored it: no polling needed.
    assert.equal(await verdict(gw, token), '401 token_revoked');
    const [record] = await listed(gw);
    assert.equal(record?.source, 'cli');
    // The gateway says who (the static token); what the CLI said about itself is a note.
    assert.equal(record?.by, 'static-token');
    assert.equal(record?.note, `cli:${USER}`);

    const list = await provgate('revocations list', {}, configPath);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(
        `^${String(record?.id)}  \\S+Z  by static-token \\(cli\\)  token mem-jti of enterprise  reason: leaked  note: cli:${USER}\\n$`,
      ),
    );

    const lifted = await provgate(`unrevoke ${printedId(revoked.stdout)}`, {}, configPath);
    assert.equal(lifted.code, 0, lifted.stderr);
    assert.equal(lifted.stdout, 'lifted: token mem-jti of enterprise\n');
    assert.equal(await verdict(gw, token), 'ok');
    assert.deepEqual(await listed(gw), []);
  });
});
