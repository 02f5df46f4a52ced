// Certificate-bound tokens (RFC 8705 §3) on the gateway's own TLS listener: a real TLS client
// with certificates made at test time by openssl, a real upstream. The client certificate's
// SHA-256 must equal the token's cnf["x5t#S256"] on every request: on a kept-alive connection
// and on a resumed TLS session too, where the certificate compared is the one the session's full
// handshake presented.
import assert from 'node:assert/strict';
import { Agent, request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
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
import { bodyOf } from '../helpers/http.js';
import { caAndClient, selfSigned, type TestCertificate } from '../helpers/openssl-certs.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let ring: KeyRing;
let certDir: string;
let server: TestCertificate;
let alice: TestCertificate;
let mallory: TestCertificate;
let chained: { ca: TestCertificate; client: TestCertificate };
let gateway: TestGateway;
let noResumption: TestGateway;
let withCa: TestGateway;

function config(dir: string, tls: Record<string, unknown>): Record<string, unknown> {
  const base = { upstream: upstream.url, audience: AUDIENCE, issuers: ['enterprise'] };
  return referenceConfig(dir, ring, {
    upstream: upstream.url,
    routes: [
      { name: 'mtls', prefix: '/api/mtls', senderConstraint: 'mtls', ...base },
      { name: 'plain', prefix: '/api/plain', ...base },
    ],
    extra: {
      listen: {
        host: '127.0.0.1',
        port: 0,
        tls: { cert: server.certPath, key: server.keyPath, requestCert: true, ...tls },
      },
    },
  });
}

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  certDir = tempDir();
  server = selfSigned(certDir, 'gateway');
  alice = selfSigned(certDir, 'alice');
  mallory = selfSigned(certDir, 'mallory');
  chained = caAndClient(certDir, 'client-ca', 'carol');
  const start = (tls: Record<string, unknown>) => {
    const dir = tempDir();
    return startTestGateway(config(dir, tls), { dir });
  };
  gateway = await start({});
  noResumption = await start({ sessionResumption: false });
  withCa = await start({ clientCa: chained.ca.certPath });
});

after(async () => {
  await Promise.all([gateway?.close(), noResumption?.close(), withCa?.close()]);
  await upstream?.close();
});

const boundTo = (cert: TestCertificate) =>
  sign(ring.enterprise, enterpriseClaims({ cnf: { 'x5t#S256': cert.x5t } }));

interface TlsAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
  readonly reused: boolean;
  readonly session: Buffer | undefined;
}

/** One HTTP/1.1 request on a fresh TLS connection, presenting `cert` (or none), resuming `session`. */
function tlsGet(
  target: TestGateway,
  path: string,
  token: string | undefined,
  o: { cert?: TestCertificate; session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<TlsAnswer> {
  const { hostname, port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let raw = '';
    const socket: TLSSocket = connect(
      {
        host: hostname,
        port: Number(port),
        rejectUnauthorized: false,
        servername: 'localhost',
        ...(o.cert === undefined ? {} : { cert: o.cert.cert, key: o.cert.key }),
        ...(o.session === undefined ? {} : { session: o.session }),
        ...(o.maxVersion === undefined ? {} : { maxVersion: o.maxVersion }),
      },
      () => {
        const auth = token === undefined ? '' : `Authorization: Bearer ${token}\r\n`;
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${auth}Connection: close\r\n\r\n`);
      },
    );
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      raw += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const split = raw.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let text = raw.slice(split + 4);
      if (headers['transfer-encoding'] === 'chunked')
        text = text.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '');
      resolve({
        status: Number(statusLine!.split(' ')[1]),
        headers,
        body: bodyOf(text),
        reused: socket.isSessionReused(),
        session,
      });
    });
  });
}

describe('a certificate-bound token on the TLS listener', () => {
  test('the certificate it is bound to: 200, and the upstream gets x-auth-cnf and no certificate header', async () => {
    const r = await tlsGet(gateway, '/api/mtls/messages', await boundTo(alice), { cert: alice });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = upstream.received.at(-1)!;
    assert.equal(got.headers['x-auth-cnf'], `x5t:${alice.x5t}`);
    assert.equal(got.headers['x-forwarded-proto'], 'https');
  });

  test('no certificate: 401 certificate_required with a Bearer invalid_token challenge', async () => {
    const r = await tlsGet(gateway, '/api/mtls/messages', await boundTo(alice));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { error: 'invalid_token', reason: 'certificate_required' });
    assert.equal(
      r.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="certificate_required"',
    );
  });

  test("another client's certificate: 401 certificate_mismatch, a high event naming both thumbprints", async () => {
    const r = await tlsGet(gateway, '/api/plain/messages', await boundTo(alice), { cert: mallory });
    assert.deepEqual(r.body, { error: 'invalid_token', reason: 'certificate_mismatch' });
    assert.equal(
      r.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="certificate_mismatch"',
    );
    const event = gateway.logs.events('certificate_mismatch').at(-1)!;
    assert.equal(event.severity, 'high');
    assert.equal(event.binding, `x5t:${alice.x5t}`);
    assert.equal(event.presented, `x5t:${mallory.x5t}`);
  });

  test('an unbound token on an mtls route: token_not_bound; on a plain route over TLS: 200', async () => {
    const unbound = await sign(ring.enterprise, enterpriseClaims());
    const r = await tlsGet(gateway, '/api/mtls/x', unbound, { cert: alice });
    assert.deepEqual(r.body, { error: 'invalid_token', reason: 'token_not_bound' });
    assert.equal(
      r.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="token_not_bound"',
    );
    assert.equal((await tlsGet(gateway, '/api/plain/x', unbound)).status, 200);
  });

  test('one kept-alive connection, two tokens: each compared with the connection’s certificate', async () => {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      cert: alice.cert,
      key: alice.key,
      rejectUnauthorized: false,
    });
    const { port } = new URL(gateway.url);
    const ask = (token: string) =>
      new Promise<{ status: number; body: Record<string, unknown>; socket: unknown }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/api/mtls/inbox',
            agent,
            servername: 'localhost',
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              text += c;
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: bodyOf(text), socket: res.socket }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    const first = await ask(await boundTo(alice));
    const second = await ask(await boundTo(mallory));
    agent.destroy();
    assert.equal(first.status, 200);
    assert.equal(second.socket, first.socket, 'the same connection');
    assert.equal(second.body.reason, 'certificate_mismatch');
  });
});

describe('TLS session resumption never skips the comparison', () => {
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${maxVersion}: a resumed session carries its full handshake’s certificate, and it is compared`, async () => {
      const token = await boundTo(alice);
      const full = await tlsGet(gateway, '/api/mtls/a', token, { cert: alice, maxVersion });
      assert.equal(full.status, 200);
      assert.ok(full.session !== undefined, 'a session to resume');
      const resumed = await tlsGet(gateway, '/api/mtls/a', token, { session: full.session, maxVersion });
      assert.equal(resumed.reused, true);
      assert.equal(resumed.status, 200, "alice's session, alice's certificate");

      // Mallory resumes a session of her own full handshake and offers alice's certificate: TLS
      // says the session is mallory's, and that is what alice's token is compared with.
      const hers = await tlsGet(gateway, '/api/mtls/a', await boundTo(mallory), {
        cert: mallory,
        maxVersion,
      });
      const disguised = await tlsGet(gateway, '/api/mtls/a', token, {
        session: hers.session,
        cert: alice,
        maxVersion,
      });
      assert.equal(disguised.reused, true);
      assert.equal(disguised.body.reason, 'certificate_mismatch');

      // A session made without a certificate stays without one, whatever is offered on resumption.
      const unbound = await sign(ring.enterprise, enterpriseClaims());
      const bare = await tlsGet(gateway, '/api/plain/a', unbound, { maxVersion });
      assert.equal(bare.status, 200);
      const late = await tlsGet(gateway, '/api/mtls/a', token, {
        session: bare.session,
        cert: alice,
        maxVersion,
      });
      assert.equal(late.reused, true);
      assert.equal(late.body.reason, 'certificate_required');
    });
  }

  test('sessionResumption: false: no session is resumed, each connection proves its certificate anew', async () => {
    const token = await boundTo(alice);
    const full = await tlsGet(noResumption, '/api/mtls/a', token, { cert: alice });
    assert.equal(full.status, 200);
    const again = await tlsGet(noResumption, '/api/mtls/a', token, { session: full.session });
    assert.equal(again.reused, false);
    assert.equal(again.body.reason, 'certificate_required');
  });
});

describe('listen.tls.clientCa', () => {
  test('a certificate that chains to it counts; a self-signed one does not', async () => {
    const good = await tlsGet(withCa, '/api/mtls/a', await boundTo(chained.client), { cert: chained.client });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    const stranger = await tlsGet(withCa, '/api/mtls/a', await boundTo(alice), { cert: alice });
    assert.equal(stranger.body.reason, 'certificate_required');
    assert.match(String(withCa.logs.events('certificate_required').at(-1)!.note), /not trusted/);
  });
});
