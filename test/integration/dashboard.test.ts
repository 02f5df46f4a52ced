import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page, type Request } from 'playwright-core';
import { revokeCommand } from '../../src/cli/revocation-commands.js';
import { loadConfigFile } from '../../src/config/load-config.js';
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
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const SCREENSHOT = 'test-artifacts/dashboard.png';

let redis: TestRedis;
let upstream: Upstream;
let gw: TestGateway;
let browser: Browser;
let page: Page;
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
  const dir = tempDir();
  gw = await startTestGateway(
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
    { dir },
  );
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
  page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
});
after(async () => {
  await browser?.close();
  await gw?.close();
  await upstream?.close();
  await redis?.close();
});

const keyRow = (issuer: string, kid: string) =>
  page.locator(`[data-issuer="${issuer}"] tr:has(button[data-kid="${kid}"])`);

test('the dashboard asks for the admin token, then shows issuers, keys and events', async () => {
  await page.goto(`${gw.adminUrl}/dashboard`);
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-issuer="enterprise"] table');
  assert.equal(await keyRow('enterprise', 'ent-2024').locator('.badge').textContent(), 'active');
  assert.notEqual(await keyRow('enterprise', 'ent-2024').locator('td').nth(5).textContent(), 'never');
  await page.waitForSelector('#events tr[data-severity="critical"]');
  assert.match((await page.locator('#events').textContent()) ?? '', /FORGERY CONFIRMED/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'provgate_session');
  assert.ok(session?.httpOnly && session.sameSite === 'Strict');
});

test('a key revoked from the CLI shows as revoked within 2 s', async () => {
  const { config } = loadConfigFile(`${gw.dir}/gateway.yaml`);
  const started = Date.now();
  await revokeCommand(config, 'key', { issuer: 'enterprise', kid: 'ent-es-1', reason: 'rotated' }, () => {});
  await keyRow('enterprise', 'ent-es-1').locator('.badge', { hasText: 'revoked' }).waitFor({ timeout: 2000 });
  assert.ok(Date.now() - started <= 2000);
  await page.locator('#revocations', { hasText: 'key ent-es-1 of enterprise' }).waitFor({ timeout: 2000 });
});

test('an operator revokes a key from the page after confirming', async () => {
  let dialogText = '';
  page.once('dialog', (dialog) => {
    dialogText = dialog.message();
    void dialog.accept();
  });
  await keyRow('consumer', 'msa-2016').locator('button').click();
  await keyRow('consumer', 'msa-2016').locator('.badge', { hasText: 'revoked' }).waitFor({ timeout: 3000 });
  assert.match(dialogText, /Revoke key msa-2016 of issuer consumer/);
  const res = await get(`${gw.adminUrl}/revocations`, ADMIN_TOKEN);
  const records = res.body.revocations as { kid?: string; by: string }[];
  assert.equal(records.find((r) => r.kid === 'msa-2016')?.by, 'dashboard');
  await page.locator('#revocations', { hasText: 'revoked from the dashboard' }).waitFor({ timeout: 2000 });
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
  assert.equal(((await get(`${gw.adminUrl}/blocks`, ADMIN_TOKEN)).body.blocks as unknown[]).length, 1);
  page.once('dialog', (dialog) => void dialog.accept());
  await row.first().locator('button').click();
  await page.locator('#blocks', { hasText: 'no active blocks' }).waitFor({ timeout: 3000 });
  assert.equal(((await get(`${gw.adminUrl}/blocks`, ADMIN_TOKEN)).body.blocks as unknown[]).length, 0);
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

test('the page renders with no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});

test('the API refuses the cookie without its CSRF header, and a stranger without a session', async () => {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'provgate_session')!;
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
  assert.match(await login.text(), /Admin token/);
});
