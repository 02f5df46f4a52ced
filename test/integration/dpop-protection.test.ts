// The token-replay rule with sender-constrained tokens: a bound token is useless without its key,
// so what moves between addresses is the key. Its addresses are counted per key (every token
// bound to it together), and the block holds the key, whichever of its tokens comes next. Real
// DPoP client, real gateway on the memory store, client sockets on distinct loopback addresses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DpopKey, dpopKey, dpopProof } from '../helpers/dpop-client.js';
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
import { closeClients, getFrom, loopback } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ORIGIN = 'https://mail.example.test';

let upstream: Upstream;
let ring: KeyRing;
let key: DpopKey;
let gateway: TestGateway;

before(async () => {
  [upstream, ring, key] = await Promise.all([startUpstream(), keyRing(), dpopKey('ES256')]);
  const dir = tempDir();
  const base = { upstream: upstream.url, audience: AUDIENCE, issuers: ['enterprise'] };
  gateway = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      routes: [{ name: 'mail', prefix: '/api/mail', ...base }],
      extra: {
        listen: { host: '127.0.0.1', port: 0, publicOrigin: ORIGIN },
        protection: { anomalies: { tokenReplay: { maxAddresses: 2, windowSeconds: 600, mode: 'enforce' } } },
      },
    }),
    { dir },
  );
});

after(async () => {
  closeClients();
  await gateway?.close();
  await upstream?.close();
});

async function dpopFrom(address: string, token: string): Promise<{ status: number; reason: unknown }> {
  const proof = await dpopProof(key, { method: 'GET', url: `${ORIGIN}/api/mail/m`, token });
  const r = await getFrom(address, `${gateway.url}/api/mail/m`, undefined, {
    authorization: `DPoP ${token}`,
    dpop: proof,
  });
  return { status: r.status, reason: r.body.reason };
}

test('tokens bound to one key, each from its own address: counted together, and the key is blocked', async () => {
  // Three tokens (a client refreshing, or a thief with the key): one token per address.
  const tokens = await Promise.all(
    ['t1', 't2', 't3', 't4'].map((jti) =>
      sign(ring.enterprise, enterpriseClaims({ jti, cnf: { jkt: key.jkt } })),
    ),
  );
  assert.equal((await dpopFrom(loopback(1), tokens[0]!)).status, 200);
  assert.equal((await dpopFrom(loopback(2), tokens[1]!)).status, 200);
  const third = await dpopFrom(loopback(3), tokens[2]!);
  assert.deepEqual(third, { status: 401, reason: 'token_blocked' });
  // The block holds the key: another token bound to it is refused, from an address seen before.
  assert.deepEqual(await dpopFrom(loopback(1), tokens[3]!), { status: 401, reason: 'token_blocked' });
  const anomaly = gateway.logs.lines.find((l) => l.rule === 'token_replay');
  assert.equal(anomaly?.tokenFingerprint, `jkt:${key.jkt}`);
});

test('unbound tokens are still counted per token: three tokens from three addresses are three clients', async () => {
  const tokens = await Promise.all(
    ['u1', 'u2', 'u3'].map((jti) => sign(ring.enterprise, enterpriseClaims({ jti, sub: 'uma' }))),
  );
  for (const [i, token] of tokens.entries()) {
    const r = await getFrom(loopback(10 + i), `${gateway.url}/api/mail/m`, token);
    assert.equal(r.status, 200, `token ${i}`);
  }
});
