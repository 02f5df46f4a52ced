// Token lineage on one gateway (memory store) in front of a real minting resource API: what a
// minting route records, the rules a minted token must keep at minting time, the rules it is
// held to at use (lineage: required), and what a bad minting answer does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { generateDevKey } from '../../src/demo/dev-keys.js';
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
import { get } from '../helpers/http.js';
import { type MintingUpstream, startMintingUpstream } from '../helpers/minting-upstream.js';
import {
  ADMIN_TOKEN,
  admin,
  instant,
  revoke,
  runCli,
  verdict,
  writeConfigFile,
} from '../helpers/revocation.js';

let ring: KeyRing;
let api: MintingUpstream;
let gw: TestGateway;
/** The gateway's clock: real time plus what a test moved it by. */
let offsetMs = 0;

function lineageConfig(
  dir: string,
  upstream: string,
  owaLineage: string,
  maxDepth = 1,
): Record<string, unknown> {
  return referenceConfig(dir, ring, {
    upstream,
    issuers: {
      // No skew for the parent's issuer, some for the minted token's: a child may then outlive a
      // parent by the skew, which is exactly when parent_expired must hold.
      enterprise: { clockSkewSeconds: 0 },
      owa: { lineage: owaLineage, clockSkewSeconds: 300 },
    },
    routes: [
      {
        name: 'token',
        prefix: '/api/token',
        upstream,
        audience: AUDIENCE,
        // A chain of minted tokens is allowed only when the configuration says how deep.
        issuers: maxDepth > 1 ? ['enterprise', 'consumer', 'owa'] : ['enterprise', 'consumer'],
        mintsTokens: true,
        mintIssuers: ['owa'],
      },
      {
        name: 'resource',
        prefix: '/api/resource',
        upstream,
        audience: AUDIENCE,
        issuers: ['enterprise', 'owa'],
      },
    ],
    extra: { lineage: { maxDepth } },
  });
}

async function startLineageGateway(owaLineage: string, maxDepth = 1): Promise<TestGateway> {
  const dir = tempDir();
  return startTestGateway(lineageConfig(dir, api.url, owaLineage, maxDepth), {
    dir,
    clock: () => Date.now() + offsetMs,
  });
}

/** POST /api/token?mode=… with `parent` as the bearer: the status, the raw body and its JSON. */
async function mint(g: TestGateway, parent: string, mode = 'ok') {
  const res = await fetch(`${g.url}/api/token?mode=${mode}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resource: AUDIENCE }),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: res.status, text, body };
}

function parentToken(extra: Record<string, unknown> = {}, key = ring.enterprise): Promise<string> {
  return sign(key, enterpriseClaims({ jti: `parent-${crypto.randomUUID()}`, ...extra }));
}

function events(g: TestGateway, reason: string): Record<string, unknown>[] {
  return g.logs.events(reason);
}

before(async () => {
  ring = await keyRing();
  api = await startMintingUpstream({
    issuer: ISS.owa,
    key: ring.owa.privateJwk,
    foreignKey: ring.enterpriseEs.privateJwk,
    // A key of the right kind that no issuer publishes.
    strayKey: (await generateDevKey('ES256', 'stray-es-1')).privateJwk,
    audience: AUDIENCE,
  });
  gw = await startLineageGateway('required');
});
after(async () => {
  await gw?.close();
  await api?.close();
});

describe('recording on a minting route', () => {
  test('a minted token is delivered as minted, recorded, and accepted where resource tokens are', async () => {
    const parent = await parentToken();
    const res = await mint(gw, parent);
    assert.equal(res.status, 200, res.text);
    const child = res.body.access_token as string;
    assert.equal(child, api.minted.at(-1), 'the answer is the upstream’s own');
    assert.equal(await verdict(gw, child, '/api/resource/inbox'), 'ok');
    assert.equal(api.seen.at(-1)?.issuer, 'owa');
    const minted = gw.logs.lines.filter((l) => l.event === 'token.minted');
    const last = minted.at(-1) as { child: Record<string, unknown>; parent: Record<string, unknown> };
    assert.equal(last.child.jti, decodeJwt(child).jti);
    assert.equal(last.parent.jti, decodeJwt(parent).jti);
    assert.equal(last.child.kind, 'access_token');
    // The event names both by fingerprint; the log never holds a token.
    assert.ok(!gw.logs.text.includes(child) && !gw.logs.text.includes(parent));
  });

  test('refresh and id tokens that are JWTs are recorded too, each one usable', async () => {
    const res = await mint(gw, await parentToken(), 'with-refresh');
    assert.equal(res.status, 200, res.text);
    for (const member of ['access_token', 'refresh_token'])
      assert.equal(await verdict(gw, res.body[member] as string, '/api/resource/x'), 'ok', member);
    const id = decodeJwt(res.body.id_token as string).jti as string;
    const shown = await admin(gw.adminUrl, 'GET', `/lineage/owa/${encodeURIComponent(id)}`);
    assert.equal(shown.status, 200);
    assert.equal((shown.body.record as { child: { kind: string } }).child.kind, 'id_token');
  });

  test('a gzip-encoded token answer is read and delivered byte for byte', async () => {
    const res = await fetch(`${gw.url}/api/token?mode=gzip`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await parentToken()}`, 'accept-encoding': 'gzip' },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { access_token: string };
    assert.equal(body.access_token, api.minted.at(-1));
    assert.equal(await verdict(gw, body.access_token, '/api/resource/x'), 'ok');
  });

  test('a mint is a token.minted event on /events, naming child and parent by fingerprint only', async () => {
    const parent = await parentToken();
    const res = await mint(gw, parent);
    assert.equal(res.status, 200, res.text);
    const child = res.body.access_token as string;
    const listed = await admin(gw.adminUrl, 'GET', '/events');
    const minted = (listed.body.events as { event: Record<string, unknown> }[])
      .map((e) => e.event as { event: string; severity: string; [k: string]: unknown })
      .filter((e) => e.event === 'token.minted');
    const last = minted.at(-1) as unknown as {
      severity: string;
      route: string;
      child: Record<string, unknown>;
      parent: Record<string, unknown>;
    };
    assert.ok(last, 'token.minted is on the security event stream');
    assert.equal(last.severity, 'low');
    assert.equal(last.route, 'token');
    assert.equal(last.child.fingerprint, tokenFingerprint(child));
    assert.equal(last.child.jti, decodeJwt(child).jti);
    assert.equal(last.child.issuer, 'owa');
    assert.equal(last.parent.fingerprint, tokenFingerprint(parent));
    assert.equal(last.parent.jti, decodeJwt(parent).jti);
    const text = JSON.stringify(listed.body);
    assert.ok(!text.includes(child) && !text.includes(parent), 'no token on /events');
    assert.ok(!gw.logs.text.includes(child) && !gw.logs.text.includes(parent), 'no token in the log');
  });

  test('a minted token replayed to the minting route is still resource_minted_token', async () => {
    const child = (await mint(gw, await parentToken())).body.access_token as string;
    assert.equal(await verdict(gw, child, '/api/token'), '401 resource_minted_token');
  });
});

describe('rules at minting time: the minted token is never delivered', () => {
  const cases: [mode: string, rule: string][] = [
    ['longer', 'lifetime'],
    ['subject', 'subject'],
    ['scopes', 'scopes'],
    ['no-jti', 'jti'],
    ['foreign', 'unverified: access_token key_issuer_mismatch'],
    ['stray', 'unverified: access_token unknown_key'],
    ['bad-refresh', 'lifetime: refresh_token'],
  ];
  for (const [mode, rule] of cases) {
    test(`${mode}: 502 mint_refused, a critical event naming ${rule}`, async () => {
      const before = events(gw, 'mint_refused').length;
      const res = await mint(gw, await parentToken(), mode);
      assert.equal(res.status, 502, res.text);
      assert.deepEqual(res.body, { error: 'unavailable', reason: 'mint_refused' });
      for (const token of api.minted.slice(-2)) assert.ok(!res.text.includes(token), 'minted token withheld');
      const event = events(gw, 'mint_refused').slice(before)[0];
      assert.ok(event !== undefined, 'one event');
      assert.equal(event.severity, 'critical');
      assert.equal(event.status, 502);
      assert.ok(String(event.note).startsWith(rule), `${event.note} names ${rule}`);
    });
  }

  test('foreign: the event names the issuer whose key signed the minted token', async () => {
    const before = events(gw, 'mint_refused').length;
    await mint(gw, await parentToken(), 'foreign');
    const event = events(gw, 'mint_refused').slice(before)[0]!;
    assert.equal(event.keyIssuer, 'enterprise');
    assert.equal(event.kid, ring.enterpriseEs.kid);
  });

  test('a second token under a jti already recorded: mint_refused jti_reused', async () => {
    const first = await mint(gw, await parentToken(), 'reuse-jti');
    assert.equal(first.status, 200, first.text);
    const second = await mint(gw, await parentToken(), 'reuse-jti');
    assert.equal(second.status, 502);
    assert.match(String(events(gw, 'mint_refused').at(-1)?.note), /^jti_reused/);
    assert.equal(await verdict(gw, first.body.access_token as string, '/api/resource/x'), 'ok');
  });
});

describe('bad minting answers never crash the proxy', () => {
  test('not JSON: delivered untouched, and its token has no lineage', async () => {
    const res = await mint(gw, await parentToken(), 'not-json');
    assert.equal(res.status, 200);
    const token = api.minted.at(-1)!;
    assert.equal(res.text, `access_token=${token}`);
    assert.equal(await verdict(gw, token, '/api/resource/x'), '401 lineage_unknown');
  });

  test('JSON without a token, and an error answer: delivered untouched', async () => {
    const none = await mint(gw, await parentToken(), 'no-token');
    assert.equal(none.status, 200);
    assert.equal(none.body.note, 'nothing minted');
    const error = await mint(gw, await parentToken(), 'error');
    assert.equal(error.status, 400);
    assert.deepEqual(error.body, { error: 'invalid_grant' });
  });

  for (const [mode, rule] of [
    ['malformed', 'unverified: access_token malformed_token'],
    ['opaque', 'malformed'],
    ['big', 'response_too_large'],
    ['big-chunked', 'response_too_large'],
    ['broken-gzip', 'unreadable'],
  ] as const) {
    test(`${mode}: 502 mint_refused (${rule}) under lineage: required`, async () => {
      const before = events(gw, 'mint_refused').length;
      const res = await mint(gw, await parentToken(), mode);
      assert.equal(res.status, 502);
      assert.equal(res.body.reason, 'mint_refused');
      assert.ok(String(events(gw, 'mint_refused').slice(before)[0]?.note).startsWith(rule));
    });
  }

  test('the gateway still serves afterwards', async () => {
    assert.equal((await mint(gw, await parentToken())).status, 200);
  });
});

describe('rules at use under lineage: required', () => {
  test('a resource token that never came through the minting route: 401 lineage_unknown, high', async () => {
    // Someone holding the resource API's key mints for itself.
    const rogue = await sign(ring.owa, { iss: ISS.owa, sub: 'alice', aud: AUDIENCE, scp: 'Mail.Read' });
    const res = await get(`${gw.url}/api/resource/x`, rogue);
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'lineage_unknown');
    const event = events(gw, 'lineage_unknown').at(-1)!;
    assert.equal(event.severity, 'high');
    assert.match(String(event.note), /^no_record/);
  });

  test('a token of another issuer needs no lineage on the same route', async () => {
    assert.equal(await verdict(gw, await parentToken(), '/api/resource/x'), 'ok');
  });

  test('the parent’s subject revoked: its child is refused parent_revoked, and the revocation counts it', async () => {
    const parent = await parentToken({ sub: 'bob' });
    const child = (await mint(gw, parent)).body.access_token as string;
    assert.equal(await verdict(gw, child, '/api/resource/x'), 'ok');
    const res = await revoke(gw, {
      kind: 'subject',
      issuer: 'enterprise',
      sub: 'bob',
      before: instant(Math.floor(Date.now() / 1000) + 1),
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.descendants, 1);
    assert.equal(await verdict(gw, child, '/api/resource/x'), '401 parent_revoked');
    const event = events(gw, 'parent_revoked').at(-1)!;
    assert.match(String(event.note), /^subject_revoked: ancestor 1\/1 enterprise jti=parent-/);
  });

  test('the parent token revoked by jti', async () => {
    const parent = await parentToken({ sub: 'carol' });
    const child = (await mint(gw, parent)).body.access_token as string;
    const jti = decodeJwt(parent).jti as string;
    const res = await revoke(gw, { kind: 'token', issuer: 'enterprise', jti });
    assert.equal(res.body.descendants, 1);
    assert.equal(await verdict(gw, child, '/api/resource/x'), '401 parent_revoked');
    assert.match(String(events(gw, 'parent_revoked').at(-1)?.note), /^token_revoked/);
  });

  test('GET /lineage shows a parent’s live descendants and each one’s standing', async () => {
    const parent = await parentToken({ sub: 'dave' });
    const a = (await mint(gw, parent)).body.access_token as string;
    const b = (await mint(gw, parent)).body.access_token as string;
    const jti = decodeJwt(parent).jti as string;
    const shown = await admin(gw.adminUrl, 'GET', `/lineage/enterprise/${jti}`);
    assert.equal(shown.status, 200);
    const kids = (shown.body.descendants as { jti: string }[]).map((d) => d.jti).sort();
    assert.deepEqual(kids, [decodeJwt(a).jti, decodeJwt(b).jti].sort());
    const child = await admin(gw.adminUrl, 'GET', `/lineage/owa/${decodeJwt(a).jti}`);
    const ancestors = child.body.ancestors as { jti: string; standing: string }[];
    assert.equal(ancestors[0]?.jti, jti);
    assert.equal(ancestors[0]?.standing, 'standing');
    assert.equal((await admin(gw.adminUrl, 'GET', '/lineage/owa/nothing-here')).status, 404);
  });

  test('provgate lineage show prints a parent’s descendants and a child’s ancestry', async () => {
    const parent = await parentToken({ sub: 'gail' });
    const child = (await mint(gw, parent)).body.access_token as string;
    const port = new URL(gw.adminUrl).port;
    const file = writeConfigFile(gw.dir, 'cli.yaml', {
      ...lineageConfig(gw.dir, api.url, 'required'),
      admin: { host: '127.0.0.1', port: Number(port), token: ADMIN_TOKEN },
    });
    const pj = decodeJwt(parent).jti as string;
    const cj = decodeJwt(child).jti as string;
    const up = await runCli(['lineage', 'show', '--issuer', 'enterprise', '--jti', pj, '--config', file]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /1 live descendant\(s\):/);
    assert.match(up.stdout, new RegExp(`owa jti=${cj} {2}access_token {2}sub gail .* standing`));
    const down = await runCli(['lineage', 'show', '--issuer', 'owa', '--jti', cj, '--config', file]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`└ from enterprise jti=${pj} {2}sub gail .* standing`));
    assert.ok(!up.stdout.includes(child) && !down.stdout.includes(parent), 'prints no token');
    const revoked = await runCli([
      'revoke',
      'subject',
      '--issuer',
      'enterprise',
      '--sub',
      'gail',
      '--before',
      instant(Math.floor(Date.now() / 1000) + 1),
      '--config',
      file,
    ]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /took down 1 live minted token\(s\) derived from it/);
    assert.equal(await verdict(gw, child, '/api/resource/x'), '401 parent_revoked');
  });

  test('the parent’s key revoked (Storm-0558: the forged parent’s key found and revoked)', async () => {
    const parent = await parentToken({ sub: 'erin' }, ring.enterpriseEs);
    const child = (await mint(gw, parent)).body.access_token as string;
    const res = await revoke(gw, { kind: 'key', issuer: 'enterprise', kid: ring.enterpriseEs.kid });
    assert.ok((res.body.descendants as number) >= 1);
    assert.equal(await verdict(gw, child, '/api/resource/x'), '401 parent_revoked');
    assert.match(String(events(gw, 'parent_revoked').at(-1)?.note), /^key_revoked/);
  });

  test('the parent expired while the child is within its own skew: parent_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const parent = await parentToken({ sub: 'frank', exp: now + 30 });
    const child = (await mint(gw, parent)).body.access_token as string;
    assert.equal(decodeJwt(child).exp, now + 30);
    offsetMs = 60_000;
    try {
      assert.equal(await verdict(gw, child, '/api/resource/x'), '401 parent_revoked');
      assert.match(String(events(gw, 'parent_revoked').at(-1)?.note), /^parent_expired/);
    } finally {
      offsetMs = 0;
    }
  });
});

describe('lineage: monitor', () => {
  let monitor: TestGateway;
  before(async () => {
    monitor = await startLineageGateway('monitor');
  });
  after(async () => monitor?.close());

  test('an unrecorded resource token passes, with a lineage.monitor line saying what required would do', async () => {
    const rogue = await sign(ring.owa, { iss: ISS.owa, sub: 'alice', aud: AUDIENCE, scp: 'Mail.Read' });
    assert.equal(await verdict(monitor, rogue, '/api/resource/x'), 'ok');
    const line = monitor.logs.lines.filter((l) => l.event === 'lineage.monitor').at(-1)!;
    assert.equal(line.reason, 'lineage_unknown');
    assert.equal(line.rule, 'no_record');
  });

  test('a token answer over the limit passes through untouched (nothing requires its lineage)', async () => {
    for (const mode of ['big', 'big-chunked']) {
      const res = await mint(monitor, await parentToken(), mode);
      assert.equal(res.status, 200, mode);
      assert.equal(res.body.access_token, api.minted.at(-1), mode);
    }
    assert.ok(
      monitor.logs.lines.some((l) => l.event === 'lineage.unchecked' && l.rule === 'response_too_large'),
    );
  });

  test('misbehaving mints are refused whatever the use-time setting', async () => {
    assert.equal((await mint(monitor, await parentToken(), 'longer')).status, 502);
  });
});

describe('lineage.maxDepth: 2, a chain of resource tokens the configuration names', () => {
  let chain: TestGateway;
  before(async () => {
    chain = await startLineageGateway('required', 2);
  });
  after(async () => chain?.close());

  test('a grandchild records both ancestors, dies with its root, and a third generation is refused', async () => {
    const root = await parentToken({ sub: 'hugo' });
    const child = (await mint(chain, root)).body.access_token as string;
    const grandchild = await mint(chain, child);
    assert.equal(grandchild.status, 200, grandchild.text);
    const g = grandchild.body.access_token as string;
    const shown = await admin(chain.adminUrl, 'GET', `/lineage/owa/${decodeJwt(g).jti}`);
    assert.deepEqual(
      (shown.body.ancestors as { issuer: string; jti: string }[]).map((a) => [a.issuer, a.jti]),
      [
        ['owa', decodeJwt(child).jti],
        ['enterprise', decodeJwt(root).jti],
      ],
    );
    const third = await mint(chain, g);
    assert.equal(third.status, 502);
    assert.match(String(events(chain, 'mint_refused').at(-1)?.note), /^depth/);
    // An unrecorded resource token presented to the minting route is refused before it mints.
    const rogue = await sign(ring.owa, { iss: ISS.owa, sub: 'hugo', aud: AUDIENCE, scp: 'Mail.Read' });
    assert.equal((await mint(chain, rogue)).body.reason, 'lineage_unknown');
    const res = await revoke(chain, { kind: 'token', issuer: 'enterprise', jti: decodeJwt(root).jti });
    assert.equal(res.body.descendants, 2);
    assert.equal(await verdict(chain, g, '/api/resource/x'), '401 parent_revoked');
    assert.match(
      String(events(chain, 'parent_revoked').at(-1)?.note),
      /^token_revoked: ancestor 2\/2 enterprise/,
    );
  });
});

describe('metrics', () => {
  test('/metrics counts mints, refusals by phase and rule, and live records', async () => {
    const res = await fetch(`${gw.adminUrl}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const text = await res.text();
    assert.match(text, /^provgate_lineage_mints_total [1-9]\d*$/m);
    assert.match(text, /^provgate_lineage_refusals_total\{phase="mint",rule="lifetime"\} [1-9]/m);
    assert.match(text, /^provgate_lineage_refusals_total\{phase="use",rule="no_record"\} [1-9]/m);
    assert.match(text, /^provgate_lineage_records [1-9]\d*$/m);
  });
});
