// Certificate-bound tokens behind a TLS-terminating proxy: RFC 9440 Client-Cert and Envoy's
// x-forwarded-client-cert, believed only from protection.trustedProxies. The same header from any
// other peer is a forgery: ignored, stripped, and a critical event. Certificates made at test
// time by openssl; the "proxy" is a client socket bound to a trusted loopback address.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
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
import { closeClients, getFrom } from '../helpers/http.js';
import { selfSigned, type TestCertificate } from '../helpers/openssl-certs.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const PROXY = '127.0.0.2';
const STRANGER = '127.0.0.3';

let upstream: Upstream;
let ring: KeyRing;
let alice: TestCertificate;
let mallory: TestCertificate;
let rfc9440: TestGateway;
let envoy: TestGateway;

function config(dir: string, header: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = { upstream: upstream.url, audience: AUDIENCE, issuers: ['enterprise'] };
  return referenceConfig(dir, ring, {
    upstream: upstream.url,
    routes: [
      { name: 'mtls', prefix: '/api/mtls', senderConstraint: 'mtls', ...base },
      { name: 'plain', prefix: '/api/plain', ...base },
    ],
    extra: {
      listen: { host: '127.0.0.1', port: 0, clientCertHeader: header },
      protection: { trustedProxies: [`${PROXY}/32`] },
      ...extra,
    },
  });
}

async function start(header: string): Promise<TestGateway> {
  const dir = tempDir();
  return startTestGateway(config(dir, header), { dir });
}

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  const dir = tempDir();
  alice = selfSigned(dir, 'alice');
  mallory = selfSigned(dir, 'mallory');
  rfc9440 = await start('client-cert');
  envoy = await start('x-forwarded-client-cert');
});

after(async () => {
  closeClients();
  await Promise.all([rfc9440?.close(), envoy?.close()]);
  await upstream?.close();
});

const boundTo = (cert: TestCertificate) =>
  sign(ring.enterprise, enterpriseClaims({ cnf: { 'x5t#S256': cert.x5t } }));
const clientCert = (cert: TestCertificate) => `:${cert.derBase64}:`;
const pemEscaped = (cert: TestCertificate) => encodeURIComponent(cert.cert.toString('utf8'));

describe('RFC 9440 Client-Cert from the trusted proxy', () => {
  test('the bound certificate: 200; the upstream gets x-auth-cnf, and no Client-Cert', async () => {
    const r = await getFrom(PROXY, `${rfc9440.url}/api/mtls/m`, await boundTo(alice), {
      'client-cert': clientCert(alice),
      'client-cert-chain': clientCert(alice),
    });
    assert.equal(r.status, 200, r.text);
    const got = upstream.received.at(-1)!;
    assert.equal(got.headers['x-auth-cnf'], `x5t:${alice.x5t}`);
    assert.equal(got.headers['client-cert'], undefined);
    assert.equal(got.headers['client-cert-chain'], undefined);
  });

  test('another certificate: certificate_mismatch; none: certificate_required', async () => {
    const token = await boundTo(alice);
    const other = await getFrom(PROXY, `${rfc9440.url}/api/mtls/m`, token, {
      'client-cert': clientCert(mallory),
    });
    assert.equal(other.body.reason, 'certificate_mismatch');
    const none = await getFrom(PROXY, `${rfc9440.url}/api/mtls/m`, token);
    assert.equal(none.body.reason, 'certificate_required');
    assert.equal(
      none.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="certificate_required"',
    );
  });

  test('malformed headers are 401 certificate_required with the reason in the log, never a 5xx', async () => {
    const token = await boundTo(alice);
    for (const value of [
      alice.derBase64,
      ':not base64!:',
      `:${Buffer.from('not a certificate').toString('base64')}:`,
      '::',
    ]) {
      const r = await getFrom(PROXY, `${rfc9440.url}/api/mtls/m`, token, { 'client-cert': value });
      assert.equal(r.status, 401, value);
      assert.equal(r.body.reason, 'certificate_required', value);
    }
    const notes = rfc9440.logs.events('certificate_required').map((e) => e.note);
    assert.ok(notes.includes('Client-Cert is not a Byte Sequence (RFC 8941)'), JSON.stringify(notes));
    assert.ok(notes.includes('the forwarded certificate is not an X.509 certificate'), JSON.stringify(notes));
  });
});

describe('a certificate header from anyone but the trusted proxy is a forgery', () => {
  test('the right certificate, forged by the client itself: ignored (certificate_required) and a critical event', async () => {
    const r = await getFrom(STRANGER, `${rfc9440.url}/api/mtls/m`, await boundTo(alice), {
      'client-cert': clientCert(alice),
    });
    assert.equal(r.status, 401);
    assert.equal(r.body.reason, 'certificate_required');
    const forged = rfc9440.logs.lines.filter((l) => l.rule === 'forged_certificate_header');
    const event = forged.at(-1)!;
    assert.equal(event.severity, 'critical');
    assert.equal(event.level, 50);
    assert.equal(event.ip, STRANGER);
    assert.deepEqual(event.headers, ['client-cert']);
    assert.match(String(event.msg), /^FORGED CERTIFICATE HEADER/);
    const events = (await (
      await fetch(`${rfc9440.adminUrl}/events?severity=critical`, {
        headers: { authorization: 'Bearer test-admin-token-0123456789' },
      })
    ).json()) as { events: { event: { rule?: string } }[] };
    assert.ok(
      events.events.some((e) => e.event.rule === 'forged_certificate_header'),
      'in the event ring',
    );
  });

  test('on a route that needs no certificate the request is served, but the header never reaches the upstream', async () => {
    const token = await sign(ring.enterprise, enterpriseClaims());
    const r = await getFrom(STRANGER, `${envoy.url}/api/plain/m`, token, {
      'x-forwarded-client-cert': `Hash=${alice.hexHash}`,
    });
    assert.equal(r.status, 200);
    assert.equal(upstream.received.at(-1)!.headers['x-forwarded-client-cert'], undefined);
    assert.equal(envoy.logs.lines.filter((l) => l.rule === 'forged_certificate_header').length, 1);
  });
});

describe("Envoy's x-forwarded-client-cert from the trusted proxy", () => {
  test('Hash (hex SHA-256) and Cert (URL-encoded PEM) are compared as bytes with cnf["x5t#S256"]', async () => {
    const token = await boundTo(alice);
    for (const xfcc of [
      `By=spiffe://mesh/gateway;Hash=${alice.hexHash};Subject="CN=alice,O=x"`,
      `By=spiffe://mesh/gateway;Cert="${pemEscaped(alice)}"`,
      `Hash=${mallory.hexHash};Subject="a,b",By=spiffe://mesh/gateway;Hash=${alice.hexHash.toUpperCase()}`,
    ]) {
      const r = await getFrom(PROXY, `${envoy.url}/api/mtls/m`, token, { 'x-forwarded-client-cert': xfcc });
      assert.equal(r.status, 200, `${xfcc}: ${r.text}`);
    }
  });

  test('only the last element counts (the one the adjacent hop appended)', async () => {
    const token = await boundTo(alice);
    const r = await getFrom(PROXY, `${envoy.url}/api/mtls/m`, token, {
      'x-forwarded-client-cert': `Hash=${alice.hexHash},Hash=${mallory.hexHash}`,
    });
    assert.equal(r.body.reason, 'certificate_mismatch');
    const broken = await getFrom(PROXY, `${envoy.url}/api/mtls/m`, token, {
      'x-forwarded-client-cert': 'Hash=zz',
    });
    assert.equal(broken.status, 401);
    assert.equal(broken.body.reason, 'certificate_required');
  });
});

describe('configuration', () => {
  test('an mtls route on a listener that sees no certificates is a configuration error, with its path', async () => {
    const dir = tempDir();
    const base = { upstream: 'http://127.0.0.1:9', audience: AUDIENCE, issuers: ['enterprise'] };
    const bad = referenceConfig(dir, ring, {
      upstream: 'http://127.0.0.1:9',
      routes: [
        { name: 'plain', prefix: '/api/plain', ...base },
        { name: 'mtls', prefix: '/api/mtls', senderConstraint: 'mtls', ...base },
      ],
      extra: { listen: { host: '127.0.0.1', port: 0, clientCertHeader: 'client-cert' } },
    });
    await assert.rejects(
      () => startTestGateway(bad, { dir }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(
          err.problems.some((p) =>
            p.startsWith('routes.1.senderConstraint: mtls needs a listener that sees client certificates'),
          ),
          err.problems.join('\n'),
        );
        assert.ok(
          err.problems.some((p) => p.startsWith('listen.clientCertHeader: needs protection.trustedProxies')),
        );
        return true;
      },
    );
  });
});
