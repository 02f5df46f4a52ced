// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the syntax under test
// Configuration errors as the operator sees them: every problem at once, each naming its path,
// from the library functions and from `provgate check-config` (exit code 1, one line each).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import { jwksOf } from '../../src/demo/dev-keys.js';
import { type CompiledConfig, compileConfig, compileConfigFile } from '../../src/runtime/compile-config.js';
import { type KeyRing, keyRing, referenceConfig, tempDir } from '../helpers/gateway-fixture.js';
import { selfSigned } from '../helpers/openssl-certs.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');

let ring: KeyRing;
let dir: string;
let fileNumber = 0;

// biome-ignore lint/suspicious/noExplicitAny: test configurations are edited freely, case by case
type Mutable = Record<string, any>;

before(async () => {
  ring = await keyRing();
  dir = tempDir();
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The reference configuration (keys written into the temp dir), to be edited per case. */
function baseConfig(): Mutable {
  return referenceConfig(dir, ring, { upstream: 'http://127.0.0.1:9090' }) as Mutable;
}

function writeConfig(config: unknown): string {
  const file = join(dir, `gateway-${++fileNumber}.yaml`);
  writeFileSync(file, typeof config === 'string' ? config : stringify(config));
  return file;
}

async function load(config: unknown, env: NodeJS.ProcessEnv = {}): Promise<CompiledConfig> {
  const { config: parsed, path } = loadConfigFile(writeConfig(config), env);
  return compileConfig(parsed, path);
}

/** Every problem the loader reports for `config`; fails if it loads. */
async function problemsOf(config: unknown, env: NodeJS.ProcessEnv = {}): Promise<readonly string[]> {
  try {
    await load(config, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration loaded, but should not have');
}

function assertHasProblem(problems: readonly string[], expected: string | RegExp): void {
  const found = problems.some((p) => (typeof expected === 'string' ? p === expected : expected.test(p)));
  assert.ok(found, `no problem ${expected} among:\n${problems.join('\n')}`);
}

describe('a valid configuration', () => {
  test('the reference configuration compiles into issuers, keys and routes', async () => {
    const compiled = await load(baseConfig());
    assert.deepEqual([...compiled.registry.byId.keys()], ['enterprise', 'consumer', 'owa']);
    assert.deepEqual(
      compiled.registry.byId.get('enterprise')!.keys.all.map((k) => k.kid),
      ['ent-2024', 'ent-es-1'],
    );
    assert.equal(compiled.registry.byIss.get('https://login.example.test/consumer/v2.0')!.id, 'consumer');
    assert.deepEqual(
      compiled.routes.map((r) => [r.name, r.mintsTokens]),
      [
        ['mail', false],
        ['token', true],
        ['resource', false],
      ],
    );
    assert.equal(compiled.registry.byId.get('enterprise')!.clockSkewSeconds, 60, 'default skew');
    assert.equal(compiled.routes[0]!.timeoutMs, 30_000, 'default timeout');
  });

  test('keyValidity windows are attached to their keys', async () => {
    const config = baseConfig();
    config.issuers.consumer.keyValidity = {
      'msa-2016': { notBefore: '2016-04-01T00:00:00Z', notAfter: '2021-04-01T00:00:00Z' },
    };
    const key = (await load(config)).registry.byId.get('consumer')!.keys.byKid.get('msa-2016')!;
    assert.equal(key.notBefore, Date.parse('2016-04-01T00:00:00Z'));
    assert.equal(key.notAfter, Date.parse('2021-04-01T00:00:00Z'));
  });
});

describe('environment expansion', () => {
  test('${VAR} and ${VAR:-default} expand from the environment', async () => {
    const config = baseConfig();
    config.routes[0].upstream = 'http://127.0.0.1:${MAIL_PORT}';
    config.routes[0].audience = '${MAIL_AUDIENCE:-https://mail.example.test}';
    config.issuers.enterprise.issuer = 'https://${IDP_HOST}/enterprise/v2.0';
    const env = { MAIL_PORT: '9191', IDP_HOST: 'login.example.test' };
    const compiled = await load(config, env);
    assert.equal(compiled.routes[0]!.upstream, 'http://127.0.0.1:9191');
    assert.deepEqual([...compiled.routes[0]!.audiences], ['https://mail.example.test']);
    assert.equal(compiled.registry.byId.get('enterprise')!.iss, 'https://login.example.test/enterprise/v2.0');

    const withAudience = await load(config, { ...env, MAIL_AUDIENCE: 'https://other.example.test' });
    assert.deepEqual([...withAudience.routes[0]!.audiences], ['https://other.example.test']);
    const empty = await load(config, { ...env, MAIL_AUDIENCE: '' });
    assert.deepEqual(
      [...empty.routes[0]!.audiences],
      ['https://mail.example.test'],
      'empty uses the default',
    );
  });

  test('a value from the environment cannot add structure to the configuration', async () => {
    const config = baseConfig();
    config.routes[0].audience = '${MAIL_AUDIENCE}';
    const compiled = await load(config, { MAIL_AUDIENCE: 'x\nmintsTokens: true' });
    assert.deepEqual([...compiled.routes[0]!.audiences], ['x\nmintsTokens: true']);
    assert.equal(compiled.routes[0]!.mintsTokens, false);
  });

  test('a variable that is not set, without a default, is a problem at its path', async () => {
    const config = baseConfig();
    config.routes[0].upstream = 'http://127.0.0.1:${MAIL_PORT}';
    config.issuers.owa.issuer = '${OWA_ISSUER}';
    const problems = await problemsOf(config, {});
    assertHasProblem(problems, 'routes.0.upstream: environment variable MAIL_PORT is not set');
    assertHasProblem(problems, 'issuers.owa.issuer: environment variable OWA_ISSUER is not set');
  });
});

describe('one problem per line, naming its path', () => {
  test('a key file that does not exist', async () => {
    const config = baseConfig();
    config.issuers.consumer.keys.file = 'keys/missing.jwks.json';
    const problems = await problemsOf(config);
    assert.deepEqual(problems, [
      `issuers.consumer.keys.file: no such file ${join(dir, 'keys/missing.jwks.json')}`,
    ]);
  });

  test('HS256 and none are refused in algorithms', async () => {
    const config = baseConfig();
    config.issuers.enterprise.algorithms = ['RS256', 'HS256'];
    config.issuers.consumer.algorithms = ['none'];
    const problems = await problemsOf(config);
    assertHasProblem(problems, /^issuers\.enterprise\.algorithms\.1: HS256 is refused/);
    assertHasProblem(problems, /^issuers\.consumer\.algorithms\.0: none is refused/);
    assert.equal(problems.length, 2, problems.join('\n'));
  });

  test('a route naming an issuer that does not exist', async () => {
    const config = baseConfig();
    config.routes[0].issuers = ['enterprise', 'nobody'];
    assert.deepEqual(await problemsOf(config), ['routes.0.issuers.1: unknown issuer nobody']);
  });

  test('a token-minting route listing a resource issuer', async () => {
    const config = baseConfig();
    config.routes[1].issuers = ['enterprise', 'consumer', 'owa'];
    const problems = await problemsOf(config);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /^routes\.1\.issuers\.2: owa has role resource/);
  });

  test('the same key material in two issuers sets, whatever its kid', async () => {
    const config = baseConfig();
    const copy = { ...ring.consumer.publicJwk, kid: 'ent-2019' };
    writeFileSync(
      join(dir, 'enterprise-shared.jwks.json'),
      JSON.stringify({ keys: [...jwksOf([ring.enterprise]).keys, copy] }),
    );
    config.issuers.enterprise.keys.file = 'enterprise-shared.jwks.json';
    const problems = await problemsOf(config);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(
      problems[0]!,
      /^issuers\.consumer\.keys: key msa-2016 \(thumbprint [\w-]+\) is also in issuers\.enterprise/,
    );
  });

  test('a revocation naming an unknown issuer', async () => {
    const config = baseConfig();
    config.revocations = { keys: [{ issuer: 'msa', kid: 'msa-2016' }] };
    assert.deepEqual(await problemsOf(config), ['revocations.keys.0.issuer: unknown issuer msa']);
  });

  test('every problem of the schema stage is reported at once, not just the first', async () => {
    const config = baseConfig();
    config.issuers.enterprise.algorithms = ['HS256'];
    config.issuers.owa.role = 'minter';
    config.routes[0].prefix = 'api/mail';
    config.routes[1].timeoutSeconds = -1;
    config.routes[2].upstream = 'ftp://127.0.0.1:21';
    config.routes[2].audience = '${AUDIENCE}';
    config.listen.port = 70_000;
    config.surprise = true;
    const problems = await problemsOf(config, {});
    for (const path of [
      'issuers.enterprise.algorithms.0',
      'issuers.owa.role',
      'routes.0.prefix',
      'routes.1.timeoutSeconds',
      'routes.2.upstream',
      'routes.2.audience',
      'listen.port',
    ]) {
      assertHasProblem(problems, new RegExp(`^${path.replaceAll('.', '\\.')}: `));
    }
    assertHasProblem(problems, /surprise/);
    // The unset variable is also an empty audience: two lines for routes.2.audience.
    assert.equal(problems.length, 9, problems.join('\n'));
  });

  test('every problem of the compile stage is reported at once, not just the first', async () => {
    const config = baseConfig();
    config.issuers.consumer.keys.file = 'nope.jwks.json';
    config.routes[0].issuers = ['enterprise', 'nobody'];
    config.routes[1].issuers = ['owa'];
    config.routes[2].name = 'mail';
    config.revocations = { subjects: [{ issuer: 'ghost', sub: 'alice', before: '2023-07-03T00:00:00Z' }] };
    const problems = await problemsOf(config);
    assert.deepEqual([...problems].sort(), [
      `issuers.consumer.keys.file: no such file ${join(dir, 'nope.jwks.json')}`,
      'revocations.subjects.0.issuer: unknown issuer ghost',
      'routes.0.issuers.1: unknown issuer nobody',
      'routes.1.issuers.0: owa has role resource; a token-minting route never accepts a resource-minted token (unless lineage.maxDepth allows chains)',
      'routes.2.name: duplicate route name mail',
    ]);
  });
});

describe('listen.tls files, checked with everything else', () => {
  /** A missing certificate, a key that is not PEM, a client CA that does not parse, and a route problem. */
  function brokenTls(): Mutable {
    writeFileSync(join(dir, 'not-a-key.pem'), 'this is not a private key\n');
    writeFileSync(
      join(dir, 'broken-ca.pem'),
      '-----BEGIN CERTIFICATE-----\nMIIBroken0000\n-----END CERTIFICATE-----\n',
    );
    const config = baseConfig();
    config.listen.tls = { cert: 'tls/missing.crt', key: 'not-a-key.pem', clientCa: 'broken-ca.pem' };
    config.routes[0].issuers = ['enterprise', 'nobody'];
    return config;
  }
  const expected = () => [
    `listen.tls.cert: no such file ${join(dir, 'tls/missing.crt')}`,
    /^listen\.tls\.key: .*not-a-key\.pem is not a PEM private key \(.+\)$/,
    /^listen\.tls\.clientCa: certificate 1 of .*broken-ca\.pem does not parse \(.+\)$/,
    'routes.0.issuers.1: unknown issuer nobody',
  ];

  test('every file problem has its path, reported with the other problems', async () => {
    const problems = await problemsOf(brokenTls());
    for (const problem of expected()) assertHasProblem(problems, problem);
    assert.equal(problems.length, 4, problems.join('\n'));
  });

  test('a key of another certificate, and a clientCa that is not there', async () => {
    const one = selfSigned(dir, 'tls-one');
    const other = selfSigned(dir, 'tls-other');
    const config = baseConfig();
    config.listen.tls = { cert: one.certPath, key: other.keyPath, clientCa: 'no-ca.pem' };
    assert.deepEqual(await problemsOf(config), [
      `listen.tls.key: ${other.keyPath} is not the private key of ${one.certPath}`,
      `listen.tls.clientCa: no such file ${join(dir, 'no-ca.pem')}`,
    ]);
  });

  test('sound files compile into the listener material', async () => {
    const server = selfSigned(dir, 'tls-sound');
    const config = baseConfig();
    config.listen.tls = { cert: server.certPath, key: server.keyPath, clientCa: server.certPath };
    const compiled = await load(config);
    assert.deepEqual(compiled.listenerTls?.cert, server.cert);
    assert.deepEqual(compiled.listenerTls?.key, server.key);
  });

  test('with a schema problem elsewhere, the files are still checked in the same run', async () => {
    const config = brokenTls();
    config.issuers.enterprise.algorithms = ['RS256', 'HS256'];
    try {
      await compileConfigFile(writeConfig(config), { env: {} });
      assert.fail('the configuration loaded, but should not have');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assertHasProblem(err.problems, /^issuers\.enterprise\.algorithms\.1: HS256 is refused/);
      for (const problem of expected().slice(0, 3)) assertHasProblem(err.problems, problem);
    }
  });

  for (const command of ['check-config', 'start']) {
    test(`provgate ${command} prints each one and exits 1, no stack trace`, async () => {
      const result = await cli(command, writeConfig(brokenTls()));
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lines = result.stderr.split('\n');
      for (const problem of expected()) {
        assert.ok(
          lines.some((l) => (typeof problem === 'string' ? l === problem : problem.test(l))),
          `no line ${problem} in:\n${result.stderr}`,
        );
      }
      assert.ok(lines.includes('configuration invalid: 4 problem(s)'), result.stderr);
      assert.doesNotMatch(result.stderr, /^\s+at /m);
    });
  }
});

describe('schema problems and problems found loading files, in one run', () => {
  /** HS256 on one issuer (schema), a key file missing on another, a deny list that is not there. */
  function twoKindsOfProblem(): Mutable {
    const config = baseConfig();
    config.issuers.enterprise.algorithms = ['RS256', 'HS256'];
    config.issuers.consumer.keys.file = 'keys/missing.jwks.json';
    config.protection = { denyNetworks: { files: ['no-such-list.txt'] } };
    return config;
  }
  const expected = () => [
    /^issuers\.enterprise\.algorithms\.1: HS256 is refused/,
    `issuers.consumer.keys.file: no such file ${join(dir, 'keys/missing.jwks.json')}`,
    /^protection\.denyNetworks\.files\.0: cannot read .*no-such-list\.txt \(ENOENT\)$/,
  ];

  test('compileConfigFile reports all of them, each with its path', async () => {
    const file = writeConfig(twoKindsOfProblem());
    try {
      await compileConfigFile(file, { env: {} });
      assert.fail('the configuration loaded, but should not have');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      for (const problem of expected()) assertHasProblem(err.problems, problem);
      assert.equal(err.problems.length, 3, err.problems.join('\n'));
    }
  });

  test('an issuer that is itself invalid is not loaded, and adds no second-hand problems', async () => {
    const config = baseConfig();
    config.issuers.enterprise.algorithms = ['HS256'];
    config.issuers.enterprise.keys.file = 'keys/also-missing.jwks.json';
    config.issuers.consumer.keys.file = 'keys/missing.jwks.json';
    try {
      await compileConfigFile(writeConfig(config), { env: {} });
      assert.fail('the configuration loaded, but should not have');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(err.problems, [
        'issuers.enterprise.algorithms.0: HS256 is refused: a token must be signed with an asymmetric key the gateway can only verify',
        `issuers.consumer.keys.file: no such file ${join(dir, 'keys/missing.jwks.json')}`,
      ]);
    }
  });

  for (const command of ['check-config', 'start']) {
    test(`provgate ${command} prints every one and exits 1`, async () => {
      const result = await cli(command, writeConfig(twoKindsOfProblem()));
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lines = result.stderr.split('\n');
      for (const problem of expected()) {
        assert.ok(
          lines.some((l) => (typeof problem === 'string' ? l === problem : problem.test(l))),
          `no line ${problem} in:\n${result.stderr}`,
        );
      }
      assert.ok(lines.includes('configuration invalid: 3 problem(s)'), result.stderr);
    });
  }
});

/** Runs the real CLI on `file`; `start` with a bad file exits at once. */
async function cli(command: string, file: string) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', command, '--config', file],
      { cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('provgate check-config', () => {
  const checkConfig = async (file: string) => {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'check-config', '--config', file],
        {
          cwd: REPO,
          env: { PATH: process.env.PATH, HOME: process.env.HOME },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  test('a bad configuration exits 1 and prints one line per problem', async () => {
    const config = baseConfig();
    config.issuers.consumer.keys.file = 'keys/missing.jwks.json';
    config.routes[0].issuers = ['enterprise', 'nobody'];
    config.routes[1].issuers = ['enterprise', 'owa'];
    const result = await checkConfig(writeConfig(config));
    assert.equal(result.code, 1, result.stderr);
    const lines = `${result.stdout}${result.stderr}`.split('\n');
    for (const expected of [
      `issuers.consumer.keys.file: no such file ${join(dir, 'keys/missing.jwks.json')}`,
      'routes.0.issuers.1: unknown issuer nobody',
      'routes.1.issuers.1: owa has role resource; a token-minting route never accepts a resource-minted token (unless lineage.maxDepth allows chains)',
    ]) {
      assert.ok(lines.includes(expected), `no line "${expected}" in:\n${lines.join('\n')}`);
    }
  });

  test('schema problems too: exit 1, a line for each', async () => {
    const config = baseConfig();
    config.issuers.enterprise.algorithms = ['RS256', 'none'];
    config.routes[0].upstream = 'http://127.0.0.1:${MAIL_PORT}';
    const result = await checkConfig(writeConfig(config));
    assert.equal(result.code, 1, result.stderr);
    const lines = `${result.stdout}${result.stderr}`.split('\n');
    assert.ok(
      lines.some((l) => l.startsWith('issuers.enterprise.algorithms.1: none is refused')),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes('routes.0.upstream: environment variable MAIL_PORT is not set'),
      lines.join('\n'),
    );
  });

  test('a good configuration exits 0 and lists issuers, keys and routes', async () => {
    const config = baseConfig();
    config.issuers.consumer.keyValidity = { 'msa-2016': { notAfter: '2021-04-01T00:00:00Z' } };
    const result = await checkConfig(writeConfig(config));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /enterprise/);
    assert.match(result.stdout, /ent-2024/);
    assert.match(result.stdout, /msa-2016.*2021-04-01T00:00:00\.000Z/);
    assert.match(result.stdout, /\/api\/token/);
  });

  test('a key set that cannot be fetched: listed as NOT LOADED, exit 1 (the gateway would start not ready)', async () => {
    const config = baseConfig();
    // A closed loopback port: nothing answers, the fetch fails at once.
    config.issuers.consumer.keys = { url: 'http://127.0.0.1:9/keys', timeoutSeconds: 1 };
    const result = await checkConfig(writeConfig(config));
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /consumer .*NOT LOADED/);
    assert.match(result.stdout, /enterprise .*file .*1 key|enterprise .*keys? \(/);
    assert.match(result.stderr, /key set could not be loaded/);
  });
});
