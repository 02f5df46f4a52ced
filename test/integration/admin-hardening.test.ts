// The admin listener against a browser-borne attacker and a guesser: Host names it answers to
// (DNS rebinding), no-store and no CORS on every answer, the dashboard's CSP, and a per-address
// limit on failed authentications.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DevKeyPair } from '../../src/demo/dev-keys.js';
import {
  type KeyRing,
  keyRing,
  referenceConfig,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { closeClients, httpRequest, loopback } from '../helpers/http.js';
import { operatorToken, opsKey, withOperators } from '../helpers/operators.js';
import { ADMIN_TOKEN } from '../helpers/revocation.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let ring: KeyRing;
let ops: DevKeyPair;
let gw: TestGateway;
let named: TestGateway;
let operator: string;

before(async () => {
  upstream = await startUpstream();
  ring = await keyRing();
  ops = await opsKey();
  const dir = tempDir();
  gw = await startTestGateway(
    withOperators(referenceConfig(dir, ring, { upstream: upstream.url }), dir, ops, {
      failedAuth: { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 },
    }),
    { dir },
  );
  const other = tempDir();
  named = await startTestGateway(
    {
      ...referenceConfig(other, ring, { upstream: upstream.url }),
      admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN, allowedHosts: ['provgate-admin.internal'] },
    },
    { dir: other },
  );
  operator = await operatorToken(ops, 'olga', 'operator');
});
after(async () => {
  closeClients();
  await gw?.close();
  await named?.close();
  await upstream?.close();
});

function port(url: string): string {
  return new URL(url).port;
}

describe('Host: the listener answers only to its own names', () => {
  test('a DNS-rebinding page (Host: evil.example) reads neither /metrics, nor the dashboard, nor health', async () => {
    for (const path of ['/metrics', '/dashboard', '/healthz', '/revocations']) {
      const res = await httpRequest(`${gw.adminUrl}${path}`, {
        headers: { host: `evil.example:${port(gw.adminUrl)}`, authorization: `Bearer ${operator}` },
      });
      assert.equal(res.status, 403, path);
      assert.deepEqual(res.body, { error: 'forbidden', reason: 'host_not_allowed' }, path);
      assert.ok(!res.text.includes('provgate_'), `${path} leaked metrics`);
    }
    const event = gw.logs.lines.find((l) => l.event === 'admin.refused' && l.reason === 'host_not_allowed');
    assert.equal(event?.severity, 'high');
    assert.match(String(event?.note), /evil\.example/);
  });

  test('the listen address and localhost are answered by default', async () => {
    for (const host of [
      `127.0.0.1:${port(gw.adminUrl)}`,
      `localhost:${port(gw.adminUrl)}`,
      'LOCALHOST',
      '[::1]:9',
    ]) {
      const res = await httpRequest(`${gw.adminUrl}/metrics`, { headers: { host } });
      assert.equal(res.status, 200, host);
    }
  });

  test('admin.allowedHosts replaces the defaults', async () => {
    const ok = await httpRequest(`${named.adminUrl}/healthz`, {
      headers: { host: `provgate-admin.internal:${port(named.adminUrl)}` },
    });
    assert.equal(ok.status, 200);
    const local = await httpRequest(`${named.adminUrl}/healthz`, { headers: { host: 'localhost' } });
    assert.equal(local.status, 403);
    assert.equal(local.body.reason, 'host_not_allowed');
  });
});

describe('every answer: no-store, no CORS', () => {
  test('health, metrics, the API, refusals and unknown paths all say Cache-Control: no-store and carry no CORS header', async () => {
    const origin = { origin: 'https://evil.example' };
    const answers = await Promise.all([
      httpRequest(`${gw.adminUrl}/healthz`, { headers: origin }),
      httpRequest(`${gw.adminUrl}/readyz`, { headers: origin }),
      httpRequest(`${gw.adminUrl}/metrics`, { headers: origin }),
      httpRequest(`${gw.adminUrl}/revocations`, {
        headers: { ...origin, authorization: `Bearer ${operator}` },
      }),
      httpRequest(`${gw.adminUrl}/revocations`, { headers: origin }),
      httpRequest(`${gw.adminUrl}/no-such-path`, { headers: origin }),
      httpRequest(`${gw.adminUrl}/revocations`, {
        method: 'OPTIONS',
        headers: { ...origin, 'access-control-request-method': 'POST' },
      }),
      httpRequest(`${gw.adminUrl}/dashboard`, { headers: origin }),
    ]);
    for (const res of answers) {
      assert.equal(res.headers['cache-control'], 'no-store', JSON.stringify(res.headers));
      const cors = Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
      assert.deepEqual(cors, []);
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      // The dashboard: 503, nothing can sign in to it without admin.oidc or the static token.
      [200, 200, 200, 200, 401, 404, 404, 503],
    );
  });

  test('the dashboard keeps its strict CSP, frame-ancestors none', async () => {
    const res = await httpRequest(`${gw.adminUrl}/dashboard`);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
  });
});

describe('failed admin authentications are limited per source address', () => {
  test('after a burst the address gets 403 blocked_source, even with a valid token; others are served', async () => {
    const guesser = loopback(7);
    const bystander = loopback(8);
    const bad = { authorization: 'Bearer not-a-token' };
    for (let i = 0; i < 4; i++) {
      const res = await httpRequest(`${gw.adminUrl}/revocations`, { localAddress: guesser, headers: bad });
      assert.equal(res.status, 401, `attempt ${i + 1}`);
    }
    const blocked = await httpRequest(`${gw.adminUrl}/revocations`, {
      localAddress: guesser,
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(blocked.status, 403);
    assert.deepEqual(blocked.body, { error: 'forbidden', reason: 'blocked_source' });
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    // The dashboard's sign-in is blocked too.
    const signIn = await httpRequest(`${gw.adminUrl}/dashboard/login/oidc`, { localAddress: guesser });
    assert.equal(signIn.status, 403);
    const served = await httpRequest(`${gw.adminUrl}/revocations`, {
      localAddress: bystander,
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(served.status, 200);
    const events = gw.logs.lines.filter((l) => l.event === 'admin.source_blocked');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.ip, guesser);
    assert.equal(events[0]!.severity, 'high');
  });

  test('requests without credentials are not guesses and are never counted', async () => {
    const quiet = loopback(9);
    for (let i = 0; i < 10; i++) {
      const res = await httpRequest(`${gw.adminUrl}/revocations`, { localAddress: quiet });
      assert.equal(res.status, 401);
    }
    const res = await httpRequest(`${gw.adminUrl}/revocations`, {
      localAddress: quiet,
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(res.status, 200);
  });
});
