// A request with more headers than `listen.maxRequestHeaders` is refused 431 too_many_headers
// before any token work, through a real gateway to a real upstream that records what reached it.
// Without the cap, about 1,000 client headers pushed the identity headers past what a Node
// upstream keeps (it drops the rest silently), and the upstream saw no x-auth-subject.
import assert from 'node:assert/strict';
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

before(async () => {
  [ring, upstream] = await Promise.all([keyRing(), startUpstream()]);
});
after(() => upstream.close());

/** `n` more headers, each one line. */
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h-${i}`, 'v']));
// fetch itself sends host, connection, accept, accept-language, sec-fetch-mode, user-agent and
// accept-encoding; with authorization, eight.
const FETCH_HEADERS = 8;
const reached = (path: string) => upstream.received.filter((r) => r.url === path).length;

async function gatewayWith(listen: Record<string, unknown> = {}): Promise<TestGateway> {
  const dir = tempDir();
  const config = referenceConfig(dir, ring, { upstream: upstream.url });
  config.listen = { ...(config.listen as object), ...listen };
  return startTestGateway(config, { dir });
}

describe('the default limit', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await gatewayWith();
  });
  after(() => gw.close());

  test('about 1,000 headers: 431 too_many_headers, with or without a token, nothing forwarded', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims());
    const path = '/api/mail/thousand';
    for (const credentials of [token, undefined]) {
      const res = await get(`${gw.url}${path}`, credentials, { headers: many(1000) });
      assert.equal(res.status, 431);
      assert.deepEqual(res.body, { error: 'invalid_request', reason: 'too_many_headers' });
      assert.equal(res.headers.get('www-authenticate'), null, 'not a token problem');
    }
    assert.equal(reached(path), 0);
    const event = gw.logs.events('too_many_headers').at(-1);
    assert.ok(event !== undefined, 'the refusal is a security event');
    assert.equal(event.path, path);
    assert.equal(event.status, 431);
    assert.equal(event.severity, 'low');
  });

  test('checked before authentication and routing: no token step runs, even on no route', async () => {
    const before = gw.logs.events().length;
    const res = await get(`${gw.url}/nowhere`, 'not-even-a-jwt', { headers: many(200) });
    assert.equal(res.status, 431);
    const events = gw.logs.events().slice(before);
    assert.deepEqual(
      events.map((e) => e.reason),
      ['too_many_headers'],
    );
  });

  test('100 headers pass, 101 do not: every header line the client sent counts', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims());
    const at = await get(`${gw.url}/api/mail/at-limit`, token, { headers: many(100 - FETCH_HEADERS) });
    assert.equal(at.status, 200, JSON.stringify(at.body));
    assert.equal(reached('/api/mail/at-limit'), 1);
    const over = await get(`${gw.url}/api/mail/over-limit`, token, { headers: many(101 - FETCH_HEADERS) });
    assert.equal(over.status, 431);
    assert.equal(reached('/api/mail/over-limit'), 0);
  });
});

describe('listen.maxRequestHeaders', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await gatewayWith({ maxRequestHeaders: 300 });
  });
  after(() => gw.close());

  test('raises the limit: 250 headers pass and the upstream still sees the identity', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims());
    const res = await get(`${gw.url}/api/mail/roomy`, token, { headers: many(250) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const seen = upstream.received.find((r) => r.url === '/api/mail/roomy');
    assert.equal(seen?.headers['x-auth-subject'], 'alice');
    assert.equal((await get(`${gw.url}/api/mail/roomy`, token, { headers: many(301) })).status, 431);
  });
});
