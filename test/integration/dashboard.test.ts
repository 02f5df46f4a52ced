// The dashboard in a real browser (Debian's Chromium through playwright-core): operators sign in
// through the identity provider (OpenID Connect, authorization code with PKCE, at the IdP stub),
// see who they are, and see and do only what their role allows; the server refuses the rest.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page, type Request } from 'playwright-core';
import { revokeCommand } from '../../src/cli/revocation-commands.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { DevKeyPair } from '../../src/demo/dev-keys.js';
import { type LineageRecord, lineageId } from '../../src/lineage/lineage-record.js';
import {
  enterpriseClaims,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get } from '../helpers/http.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { OPS_ISS, operatorToken, opsKey, withOperators } from '../helpers/operators.js';
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const CLIENT = { id: 'provgate-dashboard', secret: 'dashboard-client-secret-0123' };
const SCREENSHOT = 'test-artifacts/dashboard.png';

let redis: TestRedis;
let upstream: Upstream;
let idp: IdpStub;
let ops: DevKeyPair;
let gw: TestGateway;
let browser: Browser;
let page: Page;
/** A bearer for the test's own admin calls: an operator of the operators issuer. */
let auditor: string;
const consoleErrors: string[] = [];

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: the dashboard test drives Debian's chromium; install it with \`apt-get install -y chromium\``,
    );
  }
  redis = await startRedis();
  upstream = await startUpstream();
  const ring = await keyRing();
  ops = await opsKey();
  idp = await startIdpStub(OPS_ISS, [ops.publicJwk]);
  const adminPort = await freePort();
  const redirectUrl = `http://127.0.0.1:${adminPort}/dashboard/callback`;
  idp.oidc = {
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    redirectUris: [redirectUrl],
    signingKey: ops.privateJwk,
    users: {
      alice: { name: 'Alice Operator', roles: ['provgate.admin'] },
      victor: { name: 'Victor Viewer', roles: ['provgate.read'] },
    },
  };
  const dir = tempDir();
  const config = withOperators(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      issuers: {
        enterprise: {
          keyValidity: {
            'ent-es-1': { notBefore: '2023-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z' },
          },
        },
      },
      extra: {
        store: { kind: 'redis', url: redis.url, prefix: 'dash:' },
        protection: { anomalies: { criticalEvent: { blockSeconds: 3600, mode: 'enforce' } } },
        log: { level: 'silent' },
      },
    }),
    dir,
    ops,
    {
      port: adminPort,
      // The break-glass token stays usable, on purpose: see the last test.
      token: ADMIN_TOKEN,
      allowStaticToken: true,
      oidc: { discovery: idp.discoveryUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret, redirectUrl },
    },
  );
  // The operators issuer's keys are the IdP's own published set, as in production.
  (config.issuers as Record<string, Record<string, unknown>>).ops!.keys = { discovery: idp.discoveryUrl };
  gw = await startTestGateway(config, { dir });
  auditor = await operatorToken(ops, 'auditor', 'operator');
  // Some traffic to show: good requests, a probe, and a Storm-0558 forgery (which blocks its source).
  const token = await sign(ring.enterprise, enterpriseClaims());
  for (let i = 0; i < 5; i++) assert.equal((await get(`${gw.url}/api/mail/messages`, token)).status, 200);
  await get(`${gw.url}/api/mail/messages`);
  await get(`${gw.url}/api/mail/messages`, await sign(ring.stray, enterpriseClaims()));
  assert.equal(
    (await get(`${gw.url}/api/mail/messages`, await sign(ring.consumer, enterpriseClaims()))).status,
    401,
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await watched(await browser.newContext({ viewport: { width: 1440, height: 1100 } }));
});
after(async () => {
  await browser?.close();
  await gw?.close();
  await idp?.close();
  await upstream?.close();
  await redis?.close();
});

async function watched(context: BrowserContext, errors = consoleErrors): Promise<Page> {
  const p = await context.newPage();
  p.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  p.on('pageerror', (error) => errors.push(error.message));
  return p;
}

/** From the dashboard's sign-in page to the IdP's, as `user`, and back to the dashboard. */
async function signIn(p: Page, user: string): Promise<void> {
  await p.goto(`${gw.adminUrl}/dashboard`);
  await p.click('#oidc-login');
  await p.waitForURL(`${idp.url}/authorize?**`);
  await p.fill('#username', user);
  await p.click('#idp-submit');
  await p.waitForURL(`${gw.adminUrl}/dashboard`);
  await p.waitForSelector('[data-issuer="enterprise"] table');
}

/** A lineage record as the minting route writes it: an owa token minted from one `kid` signed. */
function mintedFrom(issuer: string, kid: string): LineageRecord {
  const now = Math.floor(Date.now() / 1000);
  const jti = `minted-${crypto.randomUUID()}`;
  return {
    id: lineageId('owa', jti),
    child: {
      issuer: 'owa',
      jti,
      sub: 'alice',
      iat: now,
      exp: now + 600,
      kid: 'owa-1',
      fingerprint: '0123456789abcdef',
      kind: 'access_token',
    },
    ancestors: [
      {
        issuer,
        jti: `parent-${jti}`,
        sub: 'alice',
        iat: now - 10,
        exp: now + 3000,
        kid,
        keyThumbprint: 'A'.repeat(43),
        fingerprint: 'fedcba9876543210',
      },
    ],
    route: 'token',
    at: new Date().toISOString(),
    by: 'test',
    expiresAt: (now + 600) * 1000,
  };
}

const keyRow = (issuer: string, kid: string) =>
  page.locator(`[data-issuer="${issuer}"] tr:has(button[data-kid="${kid}"])`);

test('an operator signs in at the identity provider, then sees who they are, issuers, keys and events', async () => {
  await signIn(page, 'alice');
  assert.equal((await page.locator('#who').textContent())?.trim(), 'Alice Operator operator');
  assert.equal(await keyRow('enterprise', 'ent-2024').locator('.badge').textContent(), 'active');
  assert.notEqual(await keyRow('enterprise', 'ent-2024').locator('td').nth(5).textContent(), 'never');
  await page.waitForSelector('#events tr[data-severity="critical"]');
  assert.match((await page.locator('#events').textContent()) ?? '', /FORGERY CONFIRMED/);
  const cookies = await page.context().cookies(gw.adminUrl);
  const session = cookies.find((c) => c.name === 'provgate_session');
  assert.ok(session?.httpOnly && session.sameSite === 'Strict');
  assert.ok(!cookies.some((c) => c.name === 'provgate_oidc'), 'the sign-in cookie is gone once used');
  // The flow the gateway ran: code with PKCE S256, state and nonce; the verifier only at /token.
  const asked = idp.authorizations.at(-1)!;
  assert.equal(asked.response_type, 'code');
  assert.equal(asked.code_challenge_method, 'S256');
  assert.match(asked.code_challenge ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.ok((asked.state ?? '').length >= 43 && (asked.nonce ?? '').length >= 43);
  assert.equal(asked.code_verifier, undefined);
  const exchanged = idp.tokenRequests.at(-1)!;
  assert.equal(exchanged.status, 200);
  assert.match(exchanged.form.code_verifier ?? '', /^[A-Za-z0-9_-]{43,128}$/);
});

test('a key revoked from the CLI shows as revoked within 2 s', async () => {
  const { config } = loadConfigFile(`${gw.dir}/gateway.yaml`);
  // With operators, the CLI goes through the gateway with the operator's own token.
  process.env.PROVGATE_ADMIN_TOKEN = await operatorToken(ops, 'carol', 'operator');
  const started = Date.now();
  try {
    await revokeCommand(
      config,
      'key',
      { issuer: 'enterprise', kid: 'ent-es-1', reason: 'rotated' },
      () => {},
    );
  } finally {
    delete process.env.PROVGATE_ADMIN_TOKEN;
  }
  await keyRow('enterprise', 'ent-es-1').locator('.badge', { hasText: 'revoked' }).waitFor({ timeout: 2000 });
  assert.ok(Date.now() - started <= 2000);
  await page.locator('#revocations', { hasText: 'key ent-es-1 of enterprise' }).waitFor({ timeout: 2000 });
  const records = (await get(`${gw.adminUrl}/revocations`, auditor)).body.revocations as {
    kid?: string;
    by: string;
  }[];
  assert.equal(records.find((r) => r.kid === 'ent-es-1')?.by, 'carol');
});

test('an operator revokes a key from the page after confirming, recorded with its own name', async () => {
  // A token minted by the mail API from one signed with msa-2016: the revocation takes it down.
  await gw.running.lineage.record([mintedFrom('consumer', 'msa-2016')]);
  let dialogText = '';
  page.once('dialog', (dialog) => {
    dialogText = dialog.message();
    void dialog.accept();
  });
  await keyRow('consumer', 'msa-2016').locator('button[data-kid]').click();
  await keyRow('consumer', 'msa-2016').locator('.badge', { hasText: 'revoked' }).waitFor({ timeout: 3000 });
  assert.match(dialogText, /Revoke key msa-2016 of issuer consumer/);
  const res = await get(`${gw.adminUrl}/revocations`, auditor);
  const records = res.body.revocations as { kid?: string; by: string; byIssuer?: string }[];
  const record = records.find((r) => r.kid === 'msa-2016');
  assert.equal(record?.by, 'alice');
  assert.equal(record?.byIssuer, 'ops');
  await page.locator('#revocations', { hasText: 'revoked from the dashboard' }).waitFor({ timeout: 2000 });
  await page
    .locator('#toast', { hasText: 'Revoked key msa-2016 of consumer · took down 1 minted token' })
    .waitFor({ timeout: 2000 });
  const row = page.locator(`#revocations tr[data-revocation="${(record as { id?: string }).id}"]`);
  assert.equal((await row.locator('td.descendants').textContent())?.trim(), '1');
});

test('an operator distrusts a key from the key table and trusts it back, each decision by name', async () => {
  const dialogs: string[] = [];
  const accept = (dialog: import('playwright-core').Dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  };
  page.on('dialog', accept);
  try {
    const row = keyRow('enterprise', 'ent-2024');
    await row.locator('button[data-trust="distrust"]').click();
    await row.locator('.badge', { hasText: 'distrusted' }).waitFor({ timeout: 3000 });
    await row.locator('button[data-trust="trust"]').click();
    await row.locator('button[data-trust="distrust"]').waitFor({ timeout: 3000 });
  } finally {
    page.off('dialog', accept);
  }
  assert.match(dialogs[0]!, /Distrust key ent-2024 of issuer enterprise\?\n\nThumbprint [A-Za-z0-9_-]{43}/);
  const audit = await get(`${gw.adminUrl}/keys/audit`, auditor);
  const decisions = (
    audit.body.audit as { by: string; record?: { kid: string; state: string; byIssuer?: string } }[]
  )
    .filter((e) => e.record?.kid === 'ent-2024')
    .map((e) => [e.by, e.record?.state, e.record?.byIssuer]);
  assert.deepEqual(decisions, [
    ['alice', 'distrusted', 'ops'],
    ['alice', 'trusted', 'ops'],
  ]);
});

test('a screenshot of the page is kept as a test artifact', async () => {
  await page.locator('#blocks tr[data-block]').first().waitFor({ timeout: 3000 });
  // The toast from the revocation above would cover the blocks table.
  await page.evaluate(() => document.getElementById('toast')?.classList.remove('show'));
  const faded = () => getComputedStyle(document.getElementById('toast')!).opacity === '0';
  await page.waitForFunction(faded, undefined, { timeout: 2000 });
  mkdirSync('test-artifacts', { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(existsSync(SCREENSHOT));
});

test('a dismissed confirmation changes nothing; a confirmed one lifts the block', async () => {
  const row = page.locator('#blocks tr[data-block]');
  await row.first().waitFor({ timeout: 3000 });
  const deletes: string[] = [];
  const record = (request: Request) => {
    if (request.method() === 'DELETE') deletes.push(request.url());
  };
  page.on('request', record);
  const dismissed = new Promise<void>((resolve) => {
    page.once('dialog', (dialog) => void dialog.dismiss().then(resolve));
  });
  await row.first().locator('button').click();
  await dismissed;
  // One round trip through the page: its click handler has run past confirm(), so a request it
  // made would have been reported by now. Nothing to wait out.
  await page.evaluate(() => undefined);
  page.off('request', record);
  assert.deepEqual(deletes, [], 'the dismissed confirmation sent nothing');
  assert.equal(((await get(`${gw.adminUrl}/blocks`, auditor)).body.blocks as unknown[]).length, 1);
  page.once('dialog', (dialog) => void dialog.accept());
  await row.first().locator('button').click();
  await page.locator('#blocks', { hasText: 'no active blocks' }).waitFor({ timeout: 3000 });
  assert.equal(((await get(`${gw.adminUrl}/blocks`, auditor)).body.blocks as unknown[]).length, 0);
});

test('the events table filters by severity and reason', async () => {
  await page.selectOption('#f-severity', 'critical');
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#events tr[data-severity]')].every(
      (r) => r.getAttribute('data-severity') === 'critical',
    ),
  );
  await page.selectOption('#f-severity', '');
  await page.selectOption('#f-reason', 'missing_token');
  await page.waitForFunction(() => document.querySelectorAll('#events tr[data-severity]').length === 1);
  await page.selectOption('#f-reason', '');
});

test('a viewer sees who they are and no button that changes state; a forged POST is refused', async () => {
  const errors: string[] = [];
  const viewer = await watched(await browser.newContext({ viewport: { width: 1440, height: 1100 } }), errors);
  await signIn(viewer, 'victor');
  assert.equal((await viewer.locator('#who').textContent())?.trim(), 'Victor Viewer viewer');
  await viewer.locator('[data-issuer="consumer"] [data-kid="msa-2016"]').waitFor({ state: 'attached' });
  assert.equal(await viewer.locator('#issuers button').count(), 0, 'no revoke button');
  assert.equal(await viewer.locator('#blocks button').count(), 0, 'no lift button');
  // The page would not offer it; the server refuses it anyway, with the page's own credentials.
  const forged = await viewer.evaluate(async () => {
    const csrf = document.querySelector('meta[name="provgate-csrf"]')!.getAttribute('content')!;
    const res = await fetch('/revocations', {
      method: 'POST',
      headers: { 'x-provgate-csrf': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'key', issuer: 'owa', kid: 'owa-1', by: 'alice' }),
    });
    return { status: res.status, body: await res.json() };
  });
  assert.deepEqual(forged, {
    status: 403,
    body: { error: 'insufficient_scope', reason: 'insufficient_role', role: 'viewer', required: 'operator' },
  });
  const records = (await get(`${gw.adminUrl}/revocations`, auditor)).body.revocations as { kid?: string }[];
  assert.ok(!records.some((r) => r.kid === 'owa-1'));
  // The one error the page reports is the forged request's own 403.
  assert.deepEqual(errors, [
    'Failed to load resource: the server responded with a status of 403 (Forbidden)',
  ]);
  await viewer.context().close();
});

test('the page renders with no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});

test('the API refuses the cookie without its CSRF header, and a stranger without a session', async () => {
  const cookie = (await page.context().cookies(gw.adminUrl)).find((c) => c.name === 'provgate_session')!;
  const body = JSON.stringify({ kind: 'key', issuer: 'owa', kid: 'owa-1' });
  const forged = await fetch(`${gw.adminUrl}/revocations`, {
    method: 'POST',
    headers: { cookie: `provgate_session=${cookie.value}`, 'content-type': 'application/json' },
    body,
  });
  assert.equal(forged.status, 401);
  assert.equal((await fetch(`${gw.adminUrl}/dashboard/api/state`)).status, 401);
  const wrong = await fetch(`${gw.adminUrl}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'token=not-the-admin-token',
    redirect: 'manual',
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const login = await fetch(`${gw.adminUrl}/dashboard`);
  assert.match(login.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(login.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  const text = await login.text();
  assert.match(text, /Sign in with ops/);
  assert.match(text, /Break-glass admin token/);
});

test('a callback that is not this browser’s sign-in is refused: no flow cookie, a replayed code', async () => {
  const stray = await fetch(`${gw.adminUrl}/dashboard/callback?code=abc&state=xyz`, { redirect: 'manual' });
  assert.equal(stray.status, 401);
  assert.equal(stray.headers.get('set-cookie')?.includes('provgate_session='), false);
  assert.match(await stray.text(), /sign_in_failed/);
  // A real code, redeemed by the browser already, shown again with the browser's state: refused.
  const first = idp.tokenRequests.find((r) => r.status === 200)!;
  const flow = await fetch(`${gw.adminUrl}/dashboard/login/oidc`, { redirect: 'manual' });
  const flowCookie = (flow.headers.get('set-cookie') ?? '').split(';')[0]!;
  const state = new URL(flow.headers.get('location')!).searchParams.get('state')!;
  const replay = await fetch(`${gw.adminUrl}/dashboard/callback?code=${first.form.code}&state=${state}`, {
    headers: { cookie: flowCookie },
    redirect: 'manual',
  });
  assert.equal(replay.status, 401);
  assert.match(await replay.text(), /invalid_grant/);
});

test('break-glass: the static admin token signs in as static-token, and says so in the events', async () => {
  const other = await watched(await browser.newContext({ viewport: { width: 1440, height: 1100 } }));
  await other.goto(`${gw.adminUrl}/dashboard`);
  await other.fill('#token', ADMIN_TOKEN);
  await other.click('button[type=submit]');
  await other.waitForSelector('[data-issuer="enterprise"] table');
  assert.equal((await other.locator('#who').textContent())?.trim(), 'static-token operator');
  const events = (await get(`${gw.adminUrl}/events`, auditor)).body.events as {
    event: Record<string, unknown>;
  }[];
  const used = events.filter((e) => e.event.event === 'admin.static_token_used');
  assert.equal(used.at(-1)?.event.severity, 'high');
  await other.context().close();
});

test('an operator whose subject is revoked is signed out of the dashboard', async () => {
  const res = await get(`${gw.adminUrl}/revocations`, auditor, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      kind: 'subject',
      issuer: 'ops',
      sub: 'alice',
      before: new Date(Date.now() + 1000).toISOString(),
    }),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  // The page's next poll is refused; it goes back to /dashboard, which ends the session.
  await page
    .locator('.login [role="alert"]', { hasText: 'Your session ended: subject_revoked' })
    .waitFor({ timeout: 3000 });
  assert.ok(!(await page.context().cookies(gw.adminUrl)).some((c) => c.name === 'provgate_session'));
});
