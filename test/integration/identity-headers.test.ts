// What the upstream learns about the caller comes from the gateway alone: through a real gateway
// to a real upstream that records every header it received, a client cannot smuggle an identity
// header (in any spelling a Rack, WSGI or PHP server would read as one), cannot push the gateway's
// identity headers out of the upstream's header limit (see also header-limit.test.ts), and a
// signed token with an empty subject never reaches it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
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
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let ring: KeyRing;
let upstream: Upstream;
let gw: TestGateway;

before(async () => {
  [ring, upstream] = await Promise.all([keyRing(), startUpstream()]);
  const dir = tempDir();
  gw = await startTestGateway(referenceConfig(dir, ring, { upstream: upstream.url }), { dir });
});
after(async () => {
  await gw.close();
  await upstream.close();
});

/** `n` more headers, each one line. */
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h-${i}`, 'v']));

/** A header name as a CGI-style server reads it: case folded, `_` and `-` the same. */
const cgiName = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** The token-less request the upstream recorded last for `path`. */
function receivedAt(path: string): IncomingHttpHeaders {
  const hit = upstream.received.filter((r) => r.url === path).at(-1);
  assert.ok(hit !== undefined, `the upstream never saw ${path}`);
  return hit.headers;
}

describe('client-sent identity headers', () => {
  test('spelled with underscores or mixed case, they never reach the upstream', async () => {
    // No tid: the only tenant the upstream could see is the one the client tries to choose.
    const token = await sign(ring.enterprise, enterpriseClaims({ tid: undefined }));
    const path = '/api/mail/smuggle';
    const res = await get(`${gw.url}${path}`, token, {
      headers: {
        X_Auth_Tenant: 'tid-evil',
        X_Auth_Subject: 'mallory',
        'x-auth_scopes': 'Admin.All',
        'X_AUTH-Token-Id': 'forged',
        'X-Auth-Issuer': 'enterprise-admin',
        'x-authorization-hint': 'kept: not an identity header',
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const headers = receivedAt(path);
    const identity = Object.entries(headers).filter(([name]) => cgiName(name).startsWith('x-auth-'));
    assert.deepEqual(Object.fromEntries(identity), {
      'x-auth-issuer': 'enterprise',
      'x-auth-subject': 'alice',
      'x-auth-scopes': 'Mail.Read Mail.Send',
      ...(headers['x-auth-token-id'] === undefined ? {} : { 'x-auth-token-id': headers['x-auth-token-id'] }),
    });
    assert.equal(headers['x-auth-tenant'], undefined, 'no tid, no tenant header');
    assert.equal(headers['x-authorization-hint'], 'kept: not an identity header');
  });
});

describe('a signed token with an empty subject', () => {
  test('is refused with claim_missing and never reaches the upstream', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims({ sub: '' }));
    const path = '/api/mail/empty-subject';
    const res = await get(`${gw.url}${path}`, token);
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'claim_missing');
    assert.equal(upstream.received.filter((r) => r.url === path).length, 0);
  });
});

describe('identity headers come first', () => {
  let small: Server;
  let seen: IncomingHttpHeaders[] = [];
  let smallGw: TestGateway;

  before(async () => {
    // An upstream that keeps only its first 40 headers, as every Node server keeps only its
    // first 1,000 or so: what the gateway appends last is what such a server loses.
    small = createServer((req, res) => {
      seen.push(req.headers);
      res.end('{}');
    });
    small.maxHeadersCount = 40;
    small.listen(0, '127.0.0.1');
    await once(small, 'listening');
    const dir = tempDir();
    const url = `http://127.0.0.1:${(small.address() as AddressInfo).port}`;
    smallGw = await startTestGateway(referenceConfig(dir, ring, { upstream: url }), { dir });
  });
  after(async () => {
    await smallGw.close();
    small.closeAllConnections();
    await new Promise((resolve) => small.close(resolve));
  });

  test('a request with as many headers as allowed still carries the identity to the upstream', async () => {
    seen = [];
    const token = await sign(ring.enterprise, enterpriseClaims());
    const res = await get(`${smallGw.url}/api/mail/crowded`, token, { headers: many(80) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!['x-auth-subject'], 'alice');
    assert.equal(seen[0]!['x-auth-issuer'], 'enterprise');
    assert.equal(seen[0]!['x-auth-tenant'], 'tid-a');
  });
});
