// Protection before any token work, with the memory store: deny lists (inline, from a file
// edited while running, monitor mode), the client address behind trusted proxies, failure
// bursts and critical events blocking their source, blocks expiring, and lifting a block.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { unblockCommand } from '../../src/cli/block-commands.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import { TestClock } from '../helpers/clock.js';
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
import { closeClients, getFrom } from '../helpers/http.js';
import { waitFor } from '../helpers/poll.js';
import { anomalies, protectedConfig, startProtected, verdictFrom } from '../helpers/protection.js';
import { freePort } from '../helpers/redis-server.js';
import { admin, runCli } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let upstream: Upstream;
let valid: string;
const open: TestGateway[] = [];

before(async () => {
  [ring, upstream] = await Promise.all([keyRing(), startUpstream()]);
  valid = await sign(ring.enterprise, enterpriseClaims());
});
after(async () => {
  closeClients(); // first, or each gateway waits out its drain grace for our idle sockets
  for (const gw of open) await gw.close();
  await upstream.close();
});

async function gateway(protection: Record<string, unknown>, clock?: TestClock, dir?: string) {
  const gw = await startProtected(ring, upstream, protection, {
    ...(clock ? { clock: clock.now } : {}),
    dir,
  });
  open.push(gw);
  return gw;
}

describe('network deny lists', () => {
  test('an address in an inline CIDR is refused 403 blocked_network before routing and token work', async () => {
    const gw = await gateway({ denyNetworks: { cidrs: ['127.0.0.64/28'], mode: 'enforce' } });
    assert.equal(await verdictFrom(gw, '127.0.0.66', valid), '403 blocked_network');
    // No route and no token: the deny list still answers first.
    assert.equal(await verdictFrom(gw, '127.0.0.66', undefined, '/nowhere'), '403 blocked_network');
    assert.equal(await verdictFrom(gw, '127.0.0.80', valid), 'ok');
    const event = gw.logs.events('blocked_network').at(-1)!;
    assert.equal(event.ip, '127.0.0.66');
    assert.equal(event.status, 403);
  });

  test('a deny-list file edited while the gateway runs takes effect without a restart', async () => {
    const gw = await gateway(
      { denyNetworks: { files: ['exits.txt'], pollSeconds: 0.2 } },
      undefined,
      listDir(),
    );
    assert.equal(await verdictFrom(gw, '127.0.0.81', valid), 'ok');
    assert.equal(await verdictFrom(gw, '127.0.0.82', valid), '403 blocked_network');
    writeFileSync(join(gw.dir, 'exits.txt'), '# exits, updated\n127.0.0.82\n127.0.0.81 # added\n');
    await waitFor(async () => (await verdictFrom(gw, '127.0.0.81', valid)) === '403 blocked_network', {
      message: 'the new entry',
    });
    writeFileSync(join(gw.dir, 'exits.txt'), '# emptied\n');
    await waitFor(async () => (await verdictFrom(gw, '127.0.0.82', valid)) === 'ok', {
      message: 'the emptied list',
    });
    assert.ok(gw.logs.lines.some((l) => l.event === 'deny_list.reloaded'));
  });

  test('monitor mode serves the request and logs the anomaly once', async () => {
    const gw = await gateway({ denyNetworks: { cidrs: ['127.0.0.70/32'], mode: 'monitor' } });
    assert.equal(await verdictFrom(gw, '127.0.0.70', valid), 'ok');
    assert.equal(await verdictFrom(gw, '127.0.0.70', valid), 'ok');
    const flagged = anomalies(gw.logs, 'deny_network');
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.mode, 'monitor');
    assert.deepEqual(flagged[0]!.addresses, ['127.0.0.70']);
  });
});

describe('client address', () => {
  test('X-Forwarded-For is ignored from an untrusted peer and honoured from a trusted proxy', async () => {
    const gw = await gateway({
      trustedProxies: ['127.0.0.2/32', '10.0.0.0/8'],
      denyNetworks: { cidrs: ['198.51.100.0/24'] },
    });
    const xff = (value: string) => ({ 'x-forwarded-for': value });
    const path = '/api/mail/messages';
    // Untrusted peer: the header is the client's own claim and proves nothing.
    assert.equal(await verdictFrom(gw, '127.0.0.3', valid, path, xff('198.51.100.7')), 'ok');
    // Trusted proxy: the address it saw is the client.
    assert.equal(await verdictFrom(gw, '127.0.0.2', valid, path, xff('198.51.100.7')), '403 blocked_network');
    // Right-most address that is not a trusted proxy; what the client wrote further left is ignored.
    assert.equal(
      await verdictFrom(gw, '127.0.0.2', valid, path, xff('198.51.100.7, 10.1.2.3')),
      '403 blocked_network',
    );
    assert.equal(await verdictFrom(gw, '127.0.0.2', valid, path, xff('198.51.100.7, 203.0.113.9')), 'ok');

    await getFrom('127.0.0.3', `${gw.url}${path}`, undefined, xff('203.0.113.50'));
    await getFrom('127.0.0.2', `${gw.url}${path}`, undefined, xff('203.0.113.51'));
    const ips = gw.logs.events('missing_token').map((e) => e.ip);
    assert.deepEqual(ips.slice(-2), ['127.0.0.3', '203.0.113.51']);
  });
});

describe('failure_burst', () => {
  test('enforce: more than maxFailures refused tokens blocks the address until blockSeconds pass', async () => {
    const clock = new TestClock();
    const gw = await gateway(
      {
        anomalies: {
          failureBurst: { maxFailures: 3, windowSeconds: 60, blockSeconds: 120, mode: 'enforce' },
        },
      },
      clock,
    );
    const forged = await sign(ring.stray, enterpriseClaims());
    for (let i = 0; i < 3; i++) assert.equal(await verdictFrom(gw, '127.0.0.90', forged), '401 unknown_key');
    assert.equal(await verdictFrom(gw, '127.0.0.90', valid), 'ok');
    // No token at all is not a guessed token: it does not count.
    assert.equal(await verdictFrom(gw, '127.0.0.90'), '401 missing_token');
    assert.equal(await verdictFrom(gw, '127.0.0.90', forged), '401 unknown_key');
    assert.equal(await verdictFrom(gw, '127.0.0.90', valid), '403 blocked_source');
    assert.equal(await verdictFrom(gw, '127.0.0.91', valid), 'ok');

    const [event] = anomalies(gw.logs, 'failure_burst');
    assert.equal(event!.action, 'blocked');
    assert.equal(event!.mode, 'enforce');
    assert.deepEqual(event!.addresses, ['127.0.0.90']);
    assert.deepEqual(event!.counts, { failures: 4, maxFailures: 3, windowSeconds: 60 });

    clock.advance(119_000);
    assert.equal(await verdictFrom(gw, '127.0.0.90', valid), '403 blocked_source');
    clock.advance(2_000);
    assert.equal(await verdictFrom(gw, '127.0.0.90', valid), 'ok');
    assert.deepEqual((await admin(gw.adminUrl, 'GET', '/blocks')).body.blocks, []);
  });

  test('monitor: the burst is reported once and nothing is blocked', async () => {
    const gw = await gateway({ anomalies: { failureBurst: { maxFailures: 2, mode: 'monitor' } } });
    const forged = await sign(ring.stray, enterpriseClaims());
    for (let i = 0; i < 5; i++) await verdictFrom(gw, '127.0.0.92', forged);
    assert.equal(await verdictFrom(gw, '127.0.0.92', valid), 'ok');
    const flagged = anomalies(gw.logs, 'failure_burst');
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.action, 'flagged');
    assert.equal(flagged[0]!.mode, 'monitor');
  });
});

describe('critical_event', () => {
  test('enforce: one forged token signed with another issuer key blocks its source at once', async () => {
    const gw = await gateway({ anomalies: { criticalEvent: { blockSeconds: 3600, mode: 'enforce' } } });
    const storm = await sign(ring.consumer, enterpriseClaims());
    assert.equal(await verdictFrom(gw, '127.0.0.95', storm), '401 key_issuer_mismatch');
    assert.equal(await verdictFrom(gw, '127.0.0.95', valid), '403 blocked_source');
    assert.equal(await verdictFrom(gw, '127.0.0.96', valid), 'ok');
    const [event] = anomalies(gw.logs, 'critical_event');
    assert.equal(event!.action, 'blocked');
    assert.equal(event!.level, 50);
    assert.equal(event!.tokenFingerprint, gw.logs.events('key_issuer_mismatch')[0]!.tokenFingerprint);
  });

  test('monitor: reported, not blocked', async () => {
    const gw = await gateway({ anomalies: { criticalEvent: { mode: 'monitor' } } });
    const storm = await sign(ring.consumer, enterpriseClaims());
    assert.equal(await verdictFrom(gw, '127.0.0.97', storm), '401 key_issuer_mismatch');
    assert.equal(await verdictFrom(gw, '127.0.0.97', valid), 'ok');
    assert.equal(anomalies(gw.logs, 'critical_event')[0]!.action, 'flagged');
  });
});

describe('admin API', () => {
  test('GET /blocks lists a block and DELETE /blocks/:id lifts it; both need the admin token', async () => {
    const gw = await gateway({ anomalies: { criticalEvent: { mode: 'enforce' } } });
    await verdictFrom(gw, '127.0.0.98', await sign(ring.consumer, enterpriseClaims()));
    assert.equal(await verdictFrom(gw, '127.0.0.98', valid), '403 blocked_source');

    assert.equal((await admin(gw.adminUrl, 'GET', '/blocks', undefined, null)).status, 401);
    assert.equal(
      (await admin(gw.adminUrl, 'GET', '/blocks', undefined, 'wrong-token-0123456789')).status,
      401,
    );
    const listed = await admin(gw.adminUrl, 'GET', '/blocks');
    const blocks = listed.body.blocks as Record<string, unknown>[];
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.target, 'address');
    assert.equal(blocks[0]!.value, '127.0.0.98');
    assert.equal(blocks[0]!.rule, 'critical_event');

    const id = String(blocks[0]!.id);
    assert.equal((await admin(gw.adminUrl, 'DELETE', `/blocks/${id}`, undefined, null)).status, 401);
    const lifted = await admin(gw.adminUrl, 'DELETE', `/blocks/${id}`);
    assert.equal(lifted.status, 200);
    assert.equal((lifted.body.removed as Record<string, unknown>).id, id);
    assert.equal(await verdictFrom(gw, '127.0.0.98', valid), 'ok');
    assert.equal((await admin(gw.adminUrl, 'DELETE', `/blocks/${id}`)).status, 404);
    assert.ok(gw.logs.lines.some((l) => l.event === 'block.lifted'));
  });
});

function listDir(): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'exits.txt'), '# tor exits\n127.0.0.82\n\n127.0.0.200/30\n');
  return dir;
}

describe('without a protection section', () => {
  test('nothing is built, and refusals name the socket address', async () => {
    const dir = tempDir();
    const gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
    open.push(gw);
    assert.equal(gw.running.protection, undefined);
    assert.equal(gw.running.compiled.protection, undefined);
    assert.equal(
      await verdictFrom(gw, '127.0.0.33', valid, '/api/mail/messages', { 'x-forwarded-for': '203.0.113.1' }),
      'ok',
    );
    assert.equal(await verdictFrom(gw, '127.0.0.33'), '401 missing_token');
    assert.equal(gw.logs.events('missing_token').at(-1)!.ip, '127.0.0.33');
    assert.deepEqual((await admin(gw.adminUrl, 'GET', '/blocks')).body, { blocks: [] });
  });
});

describe('CLI with the memory store', () => {
  test('provgate blocks list and provgate unblock go through the running gateway admin API', async () => {
    const { config, dir } = protectedConfig(ring, upstream, {
      anomalies: { criticalEvent: { mode: 'enforce' } },
    });
    // The CLI finds the gateway through admin.host/port in the file: no port 0 here.
    const withPort = { ...config, admin: { ...(config.admin as object), port: await freePort() } };
    const gw = await startTestGateway(withPort, { dir });
    open.push(gw);
    await verdictFrom(gw, '127.0.0.99', await sign(ring.consumer, enterpriseClaims()));
    assert.equal(await verdictFrom(gw, '127.0.0.99', valid), '403 blocked_source');

    const path = join(dir, 'gateway.yaml');
    const listed = await runCli(['blocks', 'list', '--config', path]);
    assert.equal(listed.code, 0, listed.stderr);
    const line = listed.stdout.split('\n').find((l) => l.includes('127.0.0.99'));
    assert.match(
      line ?? '',
      /^address-[0-9a-f]{16} {2}address 127\.0\.0\.99 {2}critical_event \(blocked_source\)/,
    );
    // The dispatch is proven above; the rest in-process, which is what `provgate unblock` runs.
    const parsed = loadConfigFile(path).config;
    const out: string[] = [];
    await unblockCommand(parsed, line!.split(' ')[0], (l) => out.push(l));
    assert.match(out[0]!, /^lifted: address-/);
    assert.equal(await verdictFrom(gw, '127.0.0.99', valid), 'ok');
    await assert.rejects(
      unblockCommand(parsed, line!.split(' ')[0], () => {}),
      /404/,
    );
  });
});
