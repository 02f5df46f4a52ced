// Hot reload: the config file is read again on demand (running.reload(), POST /reload, SIGHUP)
// or when it changes; a sound file is put in force at once for new requests, a request already
// in flight finishes under the configuration it started with, and a file with problems changes
// nothing and says why, with the path of every problem.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import {
  AUDIENCE,
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
import { startIdpStub } from '../helpers/idp-stub.js';
import { waitFor } from '../helpers/poll.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const PARTNER_ISS = 'https://partner.example.test';

let upstream: Upstream;
let ring: KeyRing;
const open: TestGateway[] = [];

before(async () => {
  upstream = await startUpstream();
  ring = await keyRing();
});
after(async () => {
  for (const gw of open) await gw.close();
  await upstream.close();
});

/** The reference configuration; file watching off so that each reload here is the test's own. */
function baseConfig(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return referenceConfig(dir, ring, {
    upstream: upstream.url,
    extra: { reload: { watch: false }, ...extra },
  });
}

/**
 * The next configuration: a new issuer (partner) and a new route for it with a rewritten path,
 * the mail route narrowed to enterprise tokens with Mail.Read, the token route gone, and one
 * subject revoked in the file.
 */
function nextConfig(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  writeFileSync(join(dir, 'partner.jwks.json'), JSON.stringify({ keys: [ring.stray.publicJwk] }));
  const base = baseConfig(dir, extra);
  return {
    ...base,
    issuers: {
      ...(base.issuers as object),
      partner: {
        issuer: PARTNER_ISS,
        role: 'identity-provider',
        keys: { file: 'partner.jwks.json' },
        algorithms: ['RS256'],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: upstream.url,
        audience: AUDIENCE,
        issuers: ['enterprise'],
        scopes: ['Mail.Read'],
      },
      {
        name: 'calendar',
        prefix: '/api/calendar',
        upstream: upstream.url,
        rewritePrefix: '/cal',
        audience: AUDIENCE,
        issuers: ['partner', 'enterprise'],
        timeoutSeconds: 5,
      },
      {
        name: 'resource',
        prefix: '/api/resource',
        upstream: upstream.url,
        audience: AUDIENCE,
        issuers: ['enterprise', 'owa'],
      },
    ],
    revocations: {
      subjects: [{ issuer: 'enterprise', sub: 'mallory', before: '2999-01-01T00:00:00Z', reason: 'phished' }],
    },
  };
}

function writeConfig(gw: TestGateway, config: Record<string, unknown> | string): void {
  writeFileSync(join(gw.dir, 'gateway.yaml'), typeof config === 'string' ? config : stringify(config));
}

async function start(config: (dir: string) => Record<string, unknown>): Promise<TestGateway> {
  const dir = tempDir();
  const gw = await startTestGateway(config(dir), { dir });
  open.push(gw);
  return gw;
}

/** `200`, or `<status> <reason>` for a refusal. */
async function verdict(url: string, token?: string): Promise<string> {
  const res = await get(url, token);
  return res.status === 200 ? '200' : `${res.status} ${String(res.body.reason ?? res.body.error)}`;
}

async function admin(
  gw: TestGateway,
  method: string,
  path: string,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const alice = () => sign(ring.enterprise, enterpriseClaims());
const consumer = () =>
  sign(ring.consumer, enterpriseClaims({ iss: 'https://login.example.test/consumer/v2.0' }));
const mallory = () => sign(ring.enterprise, enterpriseClaims({ sub: 'mallory' }));
const partner = () => sign(ring.stray, enterpriseClaims({ iss: PARTNER_ISS }));

describe('a good file', () => {
  test('routes, issuers, scopes and revocations change for new requests', async () => {
    const gw = await start(baseConfig);
    const [a, c, m, p] = await Promise.all([alice(), consumer(), mallory(), partner()]);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, c), '200');
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, m), '200');
    assert.equal(await verdict(`${gw.url}/api/token/x`, a), '200');
    assert.equal(await verdict(`${gw.url}/api/calendar/events`, a), '404 no_route');
    assert.equal(await verdict(`${gw.url}/api/resource/x`, p), '401 unknown_issuer');

    writeConfig(gw, nextConfig(gw.dir));
    const outcome = await gw.running.reload('test');
    assert.deepEqual(outcome, { applied: true, generation: 2, warnings: [] });
    assert.equal(gw.running.runtime.current.generation, 2);

    assert.equal(await verdict(`${gw.url}/api/mail/messages`, a), '200');
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, c), '401 issuer_not_accepted');
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, m), '401 subject_revoked');
    assert.equal(await verdict(`${gw.url}/api/token/x`, a), '404 no_route');
    const received = upstream.received.length;
    assert.equal(await verdict(`${gw.url}/api/calendar/events?day=1&x=%20y`, p), '200');
    const seen = upstream.received[received]!;
    assert.equal(seen.url, '/cal/events?day=1&x=%20y', 'the prefix is rewritten, the query is untouched');
    assert.equal(seen.headers['x-auth-issuer'], 'partner');

    const listed = (await admin(gw, 'GET', '/revocations')).body.revocations as { sub?: string }[];
    assert.ok(
      listed.some((r) => r.sub === 'mallory'),
      'the file revocation is in force',
    );
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(
      metrics,
      /provgate_requests_total\{route="calendar",outcome="allowed",status_class="2xx"\} 1/,
    );
    assert.match(metrics, /provgate_requests_total\{route="token",outcome="allowed",status_class="2xx"\} 1/);
    assert.match(metrics, /provgate_upstream_duration_seconds_count\{route="calendar"\} 1/);

    // Back to the first file: what it does not list is lifted, what it lists returns.
    writeConfig(gw, baseConfig(gw.dir));
    assert.equal((await gw.running.reload('test')).applied, true);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, m), '200');
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, c), '200');
    assert.equal(await verdict(`${gw.url}/api/token/x`, a), '200');
    assert.equal(await verdict(`${gw.url}/api/calendar/events`, p), '404 no_route');
    const after = (await admin(gw, 'GET', '/revocations')).body.revocations as { sub?: string }[];
    assert.ok(!after.some((r) => r.sub === 'mallory'), 'a revocation gone from the file is lifted');
    const reloaded = gw.logs.lines.filter((l) => l.event === 'config.reloaded');
    assert.deepEqual(
      reloaded.map((l) => [l.trigger, l.generation]),
      [
        ['test', 2],
        ['test', 3],
      ],
    );
  });

  test('a request in flight finishes under the configuration it started with', async () => {
    const gw = await start(baseConfig);
    const token = await alice();
    const received = upstream.received.length;
    // The token route is gone from the next file; this request already passed it.
    const slow = get(`${gw.url}/api/token/slow?ms=800`, token);
    await waitFor(() => upstream.received.length > received, { message: 'the slow request upstream' });
    writeConfig(gw, nextConfig(gw.dir));
    const outcome = await gw.running.reload('test');
    assert.equal(outcome.applied, true);
    assert.equal(
      await verdict(`${gw.url}/api/token/x`, token),
      '404 no_route',
      'new requests see the new routes',
    );
    const res = await slow;
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { slow: true });
  });

  test('protection rules come and go with the file; their blocks do not', async () => {
    const gw = await start(baseConfig);
    const token = await alice();
    const withProtection = (cidrs: string[]) =>
      baseConfig(gw.dir, {
        protection: { denyNetworks: { cidrs }, anomalies: { criticalEvent: { mode: 'enforce' } } },
      });
    writeConfig(gw, withProtection(['203.0.113.0/24']));
    assert.equal((await gw.running.reload('test')).applied, true);
    assert.ok(gw.running.protection !== undefined);
    // A forgery from this address blocks it (critical event, enforced).
    await verdict(`${gw.url}/api/mail/messages`, await sign(ring.consumer, enterpriseClaims()));
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '403 blocked_source');

    // Other rules: a new Protection, with the block carried over (memory store).
    const first = gw.running.protection;
    writeConfig(gw, withProtection(['203.0.113.0/24', '198.51.100.0/24']));
    assert.equal((await gw.running.reload('test')).applied, true);
    assert.notEqual(gw.running.protection, first);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '403 blocked_source');
    const blocks = (await admin(gw, 'GET', '/blocks')).body.blocks as { id: string }[];
    assert.equal(blocks.length, 1);
    assert.equal((await admin(gw, 'DELETE', `/blocks/${blocks[0]!.id}`)).status, 200);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');

    writeConfig(gw, withProtection(['127.0.0.0/8']));
    assert.equal((await gw.running.reload('test')).applied, true);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '403 blocked_network');

    writeConfig(gw, baseConfig(gw.dir));
    assert.equal((await gw.running.reload('test')).applied, true);
    assert.equal(gw.running.protection, undefined);
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');
  });

  test('settings that need a restart keep their running values, with a warning naming each', async () => {
    const gw = await start(baseConfig);
    const token = await alice();
    const changed = baseConfig(gw.dir, {
      listen: { host: '127.0.0.1', port: 1 },
      store: { kind: 'redis', url: 'redis://:secret@127.0.0.1:1' },
      workers: 2,
    });
    writeConfig(gw, changed);
    const outcome = await gw.running.reload('test');
    assert.equal(outcome.applied, true);
    assert.ok(outcome.applied);
    assert.equal(outcome.warnings.length, 3);
    assert.match(outcome.warnings[0]!, /^listen: changes only with a restart; the running value is kept/);
    assert.match(outcome.warnings[1]!, /^workers: /);
    assert.equal(outcome.warnings[2], 'store: changes only with a restart; the running value is kept');
    assert.ok(!gw.logs.text.includes('secret@'), 'a store URL is never logged');
    assert.equal(gw.logs.lines.filter((l) => l.event === 'config.restart_required').length, 3);
    assert.equal(gw.running.compiled.config.store.kind, 'memory');
    assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');
  });

  test('a remote key set the IdP cannot serve during the reload keeps its last good keys', async () => {
    const idp = await startIdpStub('https://login.example.test/enterprise/v2.0', [
      ring.enterprise.publicJwk,
      ring.enterpriseEs.publicJwk,
    ]);
    try {
      const gw = await start((dir) => {
        const config = baseConfig(dir);
        const issuers = config.issuers as Record<string, Record<string, unknown>>;
        issuers.enterprise!.keys = { url: idp.jwksUrl, timeoutSeconds: 1 };
        return config;
      });
      const token = await alice();
      assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');
      idp.mode = 'down';
      const outcome = await gw.running.reload('test');
      assert.ok(outcome.applied);
      assert.ok(
        outcome.warnings.some((w) => /^issuers\.enterprise\.keys: not fetched; the last good set/.test(w)),
      );
      assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');
      const ready = await admin(gw, 'GET', '/readyz', null);
      assert.equal(ready.status, 200);
      assert.equal((ready.body.keys as Record<string, { loaded: boolean }>).enterprise!.loaded, true);
    } finally {
      await idp.close();
    }
  });
});

describe('a bad file', () => {
  const cases: { name: string; text: (gw: TestGateway) => string; problem: RegExp }[] = [
    {
      name: 'a YAML syntax error',
      text: () => 'listen: { host: 127.0.0.1\nroutes: [\n',
      problem: /gateway\.yaml: /,
    },
    {
      name: 'a schema error',
      text: (gw) => {
        const config = baseConfig(gw.dir);
        (config.routes as Record<string, unknown>[])[0]!.upstream = 'ftp://mail.example.test';
        (config.issuers as Record<string, Record<string, unknown>>).consumer!.algorithms = ['HS256'];
        return stringify(config);
      },
      problem: /^routes\.0\.upstream: must be an http\(s\) URL$/,
    },
    {
      name: 'a missing key file',
      text: (gw) => {
        const config = baseConfig(gw.dir);
        (config.issuers as Record<string, Record<string, unknown>>).consumer!.keys = {
          file: 'gone.jwks.json',
        };
        return stringify(config);
      },
      problem: /^issuers\.consumer\.keys\.file: .*gone\.jwks\.json/,
    },
    {
      // As at start: the schema's problem on one issuer and a loading problem on another, one reload.
      name: 'an HS256 issuer and a missing key file on another',
      text: (gw) => {
        const config = baseConfig(gw.dir);
        const issuers = config.issuers as Record<string, Record<string, unknown>>;
        issuers.consumer!.algorithms = ['HS256'];
        issuers.enterprise!.keys = { file: 'gone.jwks.json' };
        return stringify(config);
      },
      problem: /^issuers\.enterprise\.keys\.file: .*gone\.jwks\.json/,
    },
  ];

  for (const { name, text, problem } of cases) {
    test(`${name} is refused with every problem logged, and the running configuration serves on`, async () => {
      const gw = await start(baseConfig);
      const token = await alice();
      const readyBefore = await admin(gw, 'GET', '/readyz', null);
      writeConfig(gw, text(gw));
      const outcome = await gw.running.reload('test');
      assert.equal(outcome.applied, false);
      assert.ok(!outcome.applied);
      assert.equal(outcome.generation, 1);
      assert.ok(
        outcome.problems.some((p) => problem.test(p)),
        outcome.problems.join('\n'),
      );
      const failed = gw.logs.lines.filter((l) => l.event === 'config.reload_failed');
      assert.equal(failed.length, 1);
      assert.deepEqual(failed[0]!.problems, outcome.problems);
      const lines = gw.logs.lines.filter((l) => l.event === 'config.reload_problem').map((l) => l.msg);
      assert.deepEqual(lines, outcome.problems, 'each problem on a line of its own');
      if (name === 'a schema error' || name.startsWith('an HS256 issuer')) {
        assert.ok(
          outcome.problems.some((p) => p.startsWith('issuers.consumer.algorithms.0: HS256 is refused')),
        );
      }

      assert.equal(gw.running.runtime.current.generation, 1);
      assert.equal(await verdict(`${gw.url}/api/mail/messages`, token), '200');
      assert.equal(await verdict(`${gw.url}/api/token/x`, token), '200');
      const readyAfter = await admin(gw, 'GET', '/readyz', null);
      assert.equal(readyAfter.status, readyBefore.status);
      assert.equal(readyAfter.body.status, 'ready');
    });
  }
});

describe('POST /reload on the admin listener', () => {
  test('needs the admin token; answers 200 with the generation, or 422 with the problems', async () => {
    const gw = await start(baseConfig);
    assert.equal((await admin(gw, 'POST', '/reload', null)).status, 401);
    assert.equal((await admin(gw, 'POST', '/reload', 'not-the-admin-token-at-all')).status, 401);

    writeConfig(gw, nextConfig(gw.dir));
    const ok = await admin(gw, 'POST', '/reload');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { applied: true, generation: 2, warnings: [] });
    assert.equal(await verdict(`${gw.url}/api/calendar/x`, await partner()), '200');

    writeConfig(gw, 'routes: 7\n');
    const bad = await admin(gw, 'POST', '/reload');
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error, 'invalid_configuration');
    assert.equal(bad.body.applied, false);
    assert.equal(bad.body.generation, 2);
    assert.ok((bad.body.problems as string[]).some((p) => p.startsWith('routes: ')));
    assert.equal(
      gw.logs.lines.filter((l) => l.event === 'config.reload_failed').at(-1)!.trigger,
      'admin-api',
    );
  });

  test('a new admin.token is in force from the reload that brings it', async () => {
    const gw = await start(baseConfig);
    const rotated = 'rotated-admin-token-9876543210';
    writeConfig(gw, baseConfig(gw.dir, { admin: { host: '127.0.0.1', port: 0, token: rotated } }));
    assert.equal((await admin(gw, 'POST', '/reload')).status, 200);
    assert.equal((await admin(gw, 'GET', '/revocations')).status, 401);
    assert.equal((await admin(gw, 'GET', '/revocations', rotated)).status, 200);
  });
});

describe('triggers', () => {
  test('a change of the file is noticed and applied, once it has settled', async () => {
    const gw = await start((dir) => baseConfig(dir, { reload: { watch: true } }));
    const token = await partner();
    assert.equal(await verdict(`${gw.url}/api/calendar/x`, token), '404 no_route');
    // As an editor saves: a new file written beside, then renamed over the old one.
    const next = nextConfig(gw.dir, { reload: { watch: true } });
    writeFileSync(join(gw.dir, 'gateway.yaml.tmp'), stringify(next));
    renameSync(join(gw.dir, 'gateway.yaml.tmp'), join(gw.dir, 'gateway.yaml'));
    const generation = () => gw.running.runtime.current.generation;
    await waitFor(() => generation() !== 1, { timeoutMs: 5000, message: 'the reload of the saved file' });
    assert.equal(gw.running.runtime.current.generation, 2);
    assert.equal(await verdict(`${gw.url}/api/calendar/x`, token), '200');
    const reloaded = gw.logs.lines.filter((l) => l.event === 'config.reloaded');
    assert.deepEqual(
      reloaded.map((l) => l.trigger),
      ['file'],
    );

    // reload.watch: false in the file stops the watch it came through.
    writeConfig(gw, nextConfig(gw.dir, { reload: { watch: false } }));
    await waitFor(() => generation() !== 2, { timeoutMs: 5000, message: 'the reload that stops the watch' });
    writeConfig(gw, baseConfig(gw.dir, { reload: { watch: false } }));
    // Nothing to poll for when nothing may happen: wait out the watch's settle and debounce
    // (30 + 200 ms) with room to spare, then look.
    await sleep(600);
    assert.equal(gw.running.runtime.current.generation, 3, 'no reload once watching is off');
  });

  test('SIGHUP to the real CLI reloads; a bad file then is logged and changes nothing', async () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.yaml');
    writeFileSync(path, stringify(baseConfig(dir)));
    const cli = await startCli(path);
    try {
      const token = await partner();
      assert.equal(await verdict(`${cli.proxyUrl}/api/calendar/x`, token), '404 no_route');
      writeFileSync(path, stringify(nextConfig(dir)));
      cli.child.kill('SIGHUP');
      await cli.waitFor((line) => line.event === 'config.reloaded');
      assert.equal(await verdict(`${cli.proxyUrl}/api/calendar/x`, token), '200');

      writeFileSync(path, 'routes: [\n');
      cli.child.kill('SIGHUP');
      const failed = await cli.waitFor((line) => line.event === 'config.reload_failed');
      assert.equal(failed.trigger, 'SIGHUP');
      assert.equal(failed.generation, 2);
      assert.equal(await verdict(`${cli.proxyUrl}/api/calendar/x`, token), '200');
      assert.equal(cli.child.exitCode, null, 'the process is still running');
    } finally {
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exit, 0);
    }
  });
});

interface Cli {
  readonly child: ChildProcess;
  readonly proxyUrl: string;
  readonly exit: Promise<number | null>;
  /** Resolves with the first log line after this call that `match` accepts. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** `provgate start` in its own process, as a container runs it; resolves once it listens. */
async function startCli(configPath: string): Promise<Cli> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) {
      if (part.trim() === '') continue;
      const line = JSON.parse(part) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (!waiter.match(line)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const waitFor = (match: (line: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line; stderr: ${stderr}`)), 10_000);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  const started = await Promise.race([
    waitFor((line) => line.event === 'gateway.started'),
    exit.then((code) => Promise.reject(new Error(`gateway exited ${code}: ${stderr}`))),
  ]);
  return { child, exit, proxyUrl: started.proxyUrl as string, waitFor };
}
