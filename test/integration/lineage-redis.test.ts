// Lineage shared through one real redis-server by two gateway instances in front of a real
// minting resource API: a child minted on A is known on B; revoking its parent's key on A stops
// it on B within a second; a mirror miss costs one lookup (single flight, negative cache); two
// instances minting for one parent at once both record; and Redis going away while minting
// does what store.onUnavailable says.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { generateDevKey } from '../../src/demo/dev-keys.js';
import { type LineageRecord, lineageId } from '../../src/lineage/lineage-record.js';
import { lineageKeys } from '../../src/lineage/redis-lineage-store.js';
import { tokenFingerprint } from '../../src/verify/fingerprint.js';
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
import { type MintingUpstream, startMintingUpstream } from '../helpers/minting-upstream.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { instant, redisStore, revoke, runCli, verdict, writeConfigFile } from '../helpers/revocation.js';

const PREFIX = 'pg-lin:';
const KEYS = lineageKeys(PREFIX);

let redis: TestRedis;
let inspect: Redis;
let ring: KeyRing;
let api: MintingUpstream;
let a: TestGateway;
let b: TestGateway;

function config(dir: string, store: Record<string, unknown> = {}): Record<string, unknown> {
  return referenceConfig(dir, ring, {
    upstream: api.url,
    issuers: { owa: { lineage: 'required' } },
    routes: [
      {
        name: 'token',
        prefix: '/api/token',
        upstream: api.url,
        audience: AUDIENCE,
        issuers: ['enterprise'],
        mintsTokens: true,
        mintIssuers: ['owa'],
      },
      {
        name: 'resource',
        prefix: '/api/resource',
        upstream: api.url,
        audience: AUDIENCE,
        issuers: ['enterprise', 'owa'],
      },
    ],
    // A long resync period: what B learns within a test, it learns by pub/sub or by its lookup.
    extra: { store: redisStore(redis.url, PREFIX, { resyncSeconds: 60, maxStaleSeconds: 300, ...store }) },
  });
}

async function mint(g: TestGateway, parent: string, mode = 'ok') {
  const res = await fetch(`${g.url}/api/token?mode=${mode}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parent}` },
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: res.status, text, body };
}

function parentToken(extra: Record<string, unknown> = {}, key = ring.enterprise): Promise<string> {
  return sign(key, enterpriseClaims({ jti: `parent-${crypto.randomUUID()}`, ...extra }));
}

/** A record of `child` minted from `parent`, as a minting instance would write it. */
async function recordFor(child: string, parent: string, parentKey = ring.enterprise): Promise<LineageRecord> {
  const c = decodeJwt(child);
  const p = decodeJwt(parent);
  return {
    id: lineageId('owa', c.jti!),
    child: {
      issuer: 'owa',
      jti: c.jti!,
      sub: c.sub!,
      iat: c.iat!,
      exp: c.exp!,
      kid: ring.owa.kid,
      fingerprint: tokenFingerprint(child),
      kind: 'access_token',
    },
    ancestors: [
      {
        issuer: 'enterprise',
        jti: p.jti,
        sub: p.sub!,
        iat: p.iat!,
        exp: p.exp!,
        kid: parentKey.kid,
        keyThumbprint: await calculateJwkThumbprint(parentKey.publicJwk, 'sha256'),
        fingerprint: tokenFingerprint(parent),
      },
    ],
    route: 'token',
    at: new Date().toISOString(),
    by: 'test',
    expiresAt: (c.exp! + 60) * 1000,
  };
}

/** An owa token as the resource API mints it, for a parent: with a record written past pub/sub. */
function ownMint(parent: string): Promise<string> {
  const p = decodeJwt(parent);
  return sign(ring.owa, { iss: ISS.owa, sub: p.sub, aud: AUDIENCE, scp: 'Mail.Read', exp: p.exp });
}

async function lookups(g: TestGateway, outcome: string): Promise<number> {
  const res = await fetch(`${g.adminUrl}/metrics`, {
    headers: { authorization: 'Bearer test-admin-token-0123456789' },
  });
  const match = new RegExp(`^provgate_lineage_lookups_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(
    await res.text(),
  );
  return match === null ? 0 : Number(match[1]);
}

before(async () => {
  [redis, ring] = await Promise.all([startRedis(), keyRing()]);
  api = await startMintingUpstream({
    issuer: ISS.owa,
    key: ring.owa.privateJwk,
    foreignKey: ring.enterpriseEs.privateJwk,
    strayKey: (await generateDevKey('ES256', 'stray-es-1')).privateJwk,
    audience: AUDIENCE,
  });
  inspect = new Redis(redis.url, { lazyConnect: true });
  await inspect.connect();
  const dir = tempDir();
  a = await startTestGateway(config(dir), { dir });
  b = await startTestGateway(config(dir), { dir });
  await waitFor(async () => ((await inspect.pubsub('NUMSUB', KEYS.channel)) as [string, number])[1] === 2, {
    message: 'both instances to follow the lineage channel',
  });
});
after(async () => {
  await a?.close();
  await b?.close();
  inspect?.disconnect();
  await api?.close();
  await redis?.close();
});

test('a child minted on A is recorded in Redis under {lin} and accepted on B at once', async () => {
  const res = await mint(a, await parentToken());
  assert.equal(res.status, 200, res.text);
  const child = res.body.access_token as string;
  const stored = await inspect.hget(KEYS.records, lineageId('owa', decodeJwt(child).jti!));
  assert.ok(stored !== null, 'in Redis before the answer was delivered');
  assert.equal((JSON.parse(stored) as LineageRecord).child.fingerprint, tokenFingerprint(child));
  assert.equal(await verdict(b, child, '/api/resource/x'), 'ok');
});

test('a child derived from a token whose key is then revoked on A is refused on B within 1 s', async () => {
  const parent = await parentToken({ sub: 'erin' }, ring.enterpriseEs);
  const child = (await mint(a, parent)).body.access_token as string;
  assert.equal(await verdict(b, child, '/api/resource/x'), 'ok');
  const started = performance.now();
  const res = await revoke(a, { kind: 'key', issuer: 'enterprise', kid: ring.enterpriseEs.kid });
  assert.equal(res.status, 201);
  assert.ok((res.body.descendants as number) >= 1, 'the revocation says it took the child down');
  await waitFor(async () => (await verdict(b, child, '/api/resource/x')) === '401 parent_revoked', {
    timeoutMs: 1000,
    intervalMs: 1,
    message: 'B to refuse the child with parent_revoked',
  });
  const ms = performance.now() - started;
  process.stdout.write(`# key revocation on A -> child refused on B: ${ms.toFixed(1)} ms\n`);
  const event = b.logs.events('parent_revoked').at(-1)!;
  assert.match(String(event.note), /^key_revoked: ancestor 1\/1 enterprise/);
});

describe('a mirror miss on B', () => {
  test('is one Redis lookup, shared by every request of the token at that moment', async () => {
    const parent = await parentToken();
    const child = await ownMint(parent);
    // Stored without a change message: as if B had missed it.
    await inspect.hset(
      KEYS.records,
      lineageId('owa', decodeJwt(child).jti!),
      JSON.stringify(await recordFor(child, parent)),
    );
    const found = await lookups(b, 'found');
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, () => verdict(b, child, '/api/resource/x')),
    );
    assert.deepEqual(new Set(verdicts), new Set(['ok']));
    assert.equal((await lookups(b, 'found')) - found, 1, 'one lookup for 20 requests');
    // Found once, it is in the mirror: the next request asks nobody.
    assert.equal(await verdict(b, child, '/api/resource/x'), 'ok');
    assert.equal((await lookups(b, 'found')) - found, 1);
  });

  test('of a token Redis does not know is remembered as unknown for a moment, then asked again', async () => {
    const parent = await parentToken();
    const child = await ownMint(parent);
    assert.equal(await verdict(b, child, '/api/resource/x'), '401 lineage_unknown');
    await inspect.hset(
      KEYS.records,
      lineageId('owa', decodeJwt(child).jti!),
      JSON.stringify(await recordFor(child, parent)),
    );
    const cached = await lookups(b, 'cached');
    assert.equal(await verdict(b, child, '/api/resource/x'), '401 lineage_unknown');
    assert.equal((await lookups(b, 'cached')) - cached, 1);
    await waitFor(async () => (await verdict(b, child, '/api/resource/x')) === 'ok', {
      timeoutMs: 4000,
      intervalMs: 250,
      message: 'the negative cache to lapse',
    });
  });
});

test('two instances minting for the same parent at once both record', async () => {
  const parent = await parentToken({ sub: 'gina' });
  api.delayMs = 150;
  let answers: Awaited<ReturnType<typeof mint>>[];
  try {
    answers = await Promise.all([mint(a, parent), mint(b, parent)]);
  } finally {
    api.delayMs = 0;
  }
  const children = answers.map((r) => {
    assert.equal(r.status, 200, r.text);
    return r.body.access_token as string;
  });
  for (const child of children) {
    assert.ok(await inspect.hexists(KEYS.records, lineageId('owa', decodeJwt(child).jti!)));
    for (const g of [a, b]) assert.equal(await verdict(g, child, '/api/resource/x'), 'ok');
  }
  const res = await revoke(a, { kind: 'token', issuer: 'enterprise', jti: decodeJwt(parent).jti });
  assert.equal(res.body.descendants, 2);
  for (const child of children)
    await waitFor(async () => (await verdict(b, child, '/api/resource/x')) === '401 parent_revoked', {
      timeoutMs: 1000,
      message: 'B to refuse both children',
    });
});

test('provgate revoke on the Redis store (no gateway asked) says how many minted tokens it took down', async () => {
  const parent = await parentToken({ sub: 'ivan' });
  const child = (await mint(a, parent)).body.access_token as string;
  const file = writeConfigFile(a.dir, 'cli.yaml', config(a.dir));
  const res = await runCli([
    'revoke',
    'subject',
    '--issuer',
    'enterprise',
    '--sub',
    'ivan',
    '--before',
    instant(Math.floor(Date.now() / 1000) + 1),
    '--config',
    file,
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /took down 1 live minted token\(s\)/);
  await waitFor(async () => (await verdict(b, child, '/api/resource/x')) === '401 parent_revoked', {
    timeoutMs: 1000,
    message: 'B to refuse the child',
  });
});

describe('Redis away while minting', () => {
  let closed: TestGateway;
  before(async () => {
    const dir = tempDir();
    closed = await startTestGateway(config(dir, { onUnavailable: 'fail-closed' }), { dir });
  });
  after(async () => closed?.close());

  test('fail-closed: 503 lineage_unavailable, the minted token not delivered; serve-stale: delivered, held, replayed', async () => {
    const parent = await parentToken({ sub: 'hank' });
    await redis.stop();
    let held: string;
    try {
      await waitFor(() => !closed.running.lineage.store.available && !a.running.lineage.store.available, {
        message: 'both to see Redis gone',
      });
      const refused = await mint(closed, parent);
      assert.equal(refused.status, 503);
      assert.deepEqual(refused.body, { error: 'unavailable', reason: 'lineage_unavailable' });
      assert.ok(!refused.text.includes(api.minted.at(-1)!));
      assert.equal(closed.logs.events('lineage_unavailable').at(-1)?.severity, 'high');

      const delivered = await mint(a, parent);
      assert.equal(delivered.status, 200, delivered.text);
      held = delivered.body.access_token as string;
      assert.equal(await verdict(a, held, '/api/resource/x'), 'ok', 'held here, so known here');
      assert.ok(a.logs.lines.some((l) => l.event === 'lineage.held'));
      // B cannot know it and cannot ask: 503, not a 401 that would call the token bad.
      assert.equal(await verdict(b, held, '/api/resource/x'), '503 lineage_unavailable');
    } finally {
      await redis.restart();
    }
    const id = lineageId('owa', decodeJwt(held).jti!);
    await waitFor(async () => (await inspect.hexists(KEYS.records, id)) === 1, {
      timeoutMs: 5000,
      intervalMs: 50,
      message: 'A to replay the held record to Redis',
    });
    assert.ok(a.logs.lines.some((l) => l.event === 'lineage.replayed'));
    await waitFor(async () => (await verdict(b, held, '/api/resource/x')) === 'ok', {
      timeoutMs: 5000,
      intervalMs: 100,
      message: 'B to accept the replayed child',
    });
  });
});
