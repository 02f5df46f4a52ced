// `provgate signals send` and `provgate signals status` as an operator runs them (child processes
// of the real CLI), against a real gateway on a real redis-server.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
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
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { redisStore, runCli } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let redis: TestRedis;
let upstream: Upstream;
let gw: TestGateway;
let configPath: string;
let pushUrl: string;

before(async () => {
  [ring, redis, upstream] = await Promise.all([keyRing(), startRedis(), startUpstream()]);
  const dir = tempDir();
  // The transmitter's development key, as an operator would make it.
  const generated = await runCli([
    'keys',
    'generate',
    '--issuer',
    'cli-idp',
    '--alg',
    'ES256',
    '--kid',
    'cli-1',
    '--out',
    dir,
  ]);
  assert.equal(generated.code, 0, generated.stderr);
  const config = referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: {
      store: redisStore(redis.url, 'pg-sigcli:'),
      signals: {
        transmitters: {
          'cli-idp': {
            issuer: 'https://login.example.test/enterprise/ssf',
            keys: { file: 'cli-idp.jwks.json' },
            audience: 'https://gateway.example.test/ssf',
            subjects: ['enterprise'],
            authorization: 'Bearer cli-push-secret-0123456789',
          },
        },
      },
    },
  });
  gw = await startTestGateway(config, { dir });
  pushUrl = `${gw.url}/ssf/events`;
  configPath = join(dir, 'cli.yaml');
  writeFileSync(configPath, stringify(config));
});

after(async () => {
  await gw.close();
  await Promise.all([upstream.close(), redis.close()]);
});

test('signals send signs with the development key beside the key file and pushes: 202, then the token is refused', async () => {
  const token = await sign(ring.enterprise, enterpriseClaims({ sub: 'cli-alice' }), {
    now: Math.floor(Date.now() / 1000) - 30,
  });
  assert.equal((await get(`${gw.url}/api/mail/m`, token)).status, 200);
  const sent = await runCli([
    'signals',
    'send',
    '--config',
    configPath,
    '--event',
    'session-revoked',
    '--subject',
    'cli-alice',
    '--url',
    pushUrl,
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, /^202 accepted/);
  const refused = await get(`${gw.url}/api/mail/m`, token);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.reason, 'subject_revoked');
});

test('signals send --print prints the signed SET; a refusal is the exit code and the err', async () => {
  const printed = await runCli([
    'signals',
    'send',
    '--config',
    configPath,
    '--event',
    'account-disabled',
    '--subject',
    'email:x@example.test',
    '--print',
  ]);
  assert.equal(printed.code, 0, printed.stderr);
  const [header, payload] = printed.stdout.trim().split('.');
  assert.equal(JSON.parse(Buffer.from(header!, 'base64url').toString()).typ, 'secevent+jwt');
  assert.deepEqual(JSON.parse(Buffer.from(payload!, 'base64url').toString()).sub_id, {
    format: 'email',
    email: 'x@example.test',
  });
  // credential-change needs credential_type and change_type: the gateway says invalid_request.
  const refused = await runCli([
    'signals',
    'send',
    '--config',
    configPath,
    '--event',
    'credential-change',
    '--subject',
    'bob',
    '--url',
    pushUrl,
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /400 .*invalid_request/);
});

test("signals status reads every instance's view from the Redis store", async () => {
  const status = await runCli(['signals', 'status', '--config', configPath]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(
    status.stdout,
    /^cli-idp {2}https:\/\/login\.example\.test\/enterprise\/ssf {2}push {2}governs enterprise {2}up/m,
  );
  assert.match(status.stdout, /last event: session-revoked at /);
  assert.match(status.stdout, /last error: invalid_request/);
});
