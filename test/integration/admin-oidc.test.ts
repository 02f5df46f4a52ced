// The dashboard's OpenID Connect sign-in without a browser: each way an identity provider's answer
// can fail to belong to this sign-in, against the IdP stub on loopback, and sessions that any
// instance with the same configuration accepts.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';
import {
  keyRing,
  referenceConfig,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { type IdpStub, startIdpStub } from '../helpers/idp-stub.js';
import { OPS_ISS, opsKey, withOperators } from '../helpers/operators.js';
import { freePort } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CLIENT = { id: 'provgate-dashboard', secret: 'dashboard-client-secret-0123' };

let upstream: Upstream;
let idp: IdpStub;
let ops: DevKeyPair;
let a: TestGateway;
let b: TestGateway;
let redirectUrl: string;

async function instance(adminPort: number): Promise<TestGateway> {
  const dir = tempDir();
  const config = withOperators(referenceConfig(dir, await keyRing(), { upstream: upstream.url }), dir, ops, {
    port: adminPort,
    oidc: { discovery: idp.discoveryUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret, redirectUrl },
  });
  (config.issuers as Record<string, Record<string, unknown>>).ops!.keys = { discovery: idp.discoveryUrl };
  return startTestGateway(config, { dir });
}

before(async () => {
  upstream = await startUpstream();
  ops = await opsKey();
  idp = await startIdpStub(OPS_ISS, [ops.publicJwk]);
  const port = await freePort();
  redirectUrl = `http://127.0.0.1:${port}/dashboard/callback`;
  a = await instance(port);
  b = await instance(0);
});
after(async () => {
  await a?.close();
  await b?.close();
  await idp?.close();
  await upstream?.close();
});

const USERS: Record<string, JWTPayload> = {
  alice: { name: 'Alice', roles: ['provgate.admin'] },
  nobody: { name: 'No Role', roles: ['mail.user'] },
};

beforeEach(() => {
  idp.issuer = OPS_ISS;
  idp.oidc = {
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    redirectUris: [redirectUrl],
    signingKey: ops.privateJwk,
    users: USERS,
  };
});

interface SignIn {
  readonly status: number;
  readonly text: string;
  readonly session: string | undefined;
}

/** What a browser does: start at the gateway, sign in as `user` at the IdP, come back with the code. */
async function signIn(gw: TestGateway, user: string): Promise<SignIn> {
  const start = await fetch(`${gw.adminUrl}/dashboard/login/oidc`, { redirect: 'manual' });
  assert.equal(start.status, 303, await start.clone().text());
  const flowCookie = (start.headers.get('set-cookie') ?? '').split(';')[0]!;
  const authorize = new URL(start.headers.get('location')!);
  const form = new URLSearchParams({ ...Object.fromEntries(authorize.searchParams), username: user });
  const login = await fetch(`${idp.url}/authorize`, { method: 'POST', body: form, redirect: 'manual' });
  const back = login.headers.get('location')!;
  assert.ok(back.startsWith(redirectUrl), back);
  const callback = await fetch(`${gw.adminUrl}${new URL(back).pathname}${new URL(back).search}`, {
    headers: { cookie: flowCookie },
    redirect: 'manual',
  });
  const session = callback.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('provgate_session=') && c !== 'provgate_session=');
  return { status: callback.status, text: await callback.text(), session };
}

/** The dashboard page for a session, and the CSRF value it hands the page. */
async function pageOf(
  gw: TestGateway,
  session: string,
): Promise<{ status: number; text: string; csrf: string }> {
  const res = await fetch(`${gw.adminUrl}/dashboard`, { headers: { cookie: session } });
  const text = await res.text();
  return { status: res.status, text, csrf: /name="provgate-csrf" content="([^"]+)"/.exec(text)?.[1] ?? '' };
}

describe('a sign-in that belongs to this browser', () => {
  test('ends in a session naming the operator, valid on every instance with the same configuration', async () => {
    const done = await signIn(a, 'alice');
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /http-equiv="refresh" content="0;url=\/dashboard"/);
    const session = done.session;
    assert.ok(session !== undefined);
    for (const gw of [a, b]) {
      const page = await pageOf(gw, session);
      assert.equal(page.status, 200);
      assert.match(
        page.text,
        /id="who" title="alice">Alice <span class="badge b-neutral" id="role">operator/,
      );
      const state: Response = await fetch(`${gw.adminUrl}/dashboard/api/state`, {
        headers: { cookie: session, 'x-provgate-csrf': page.csrf },
      });
      assert.equal(state.status, 200);
    }
    const signedIn = a.logs.lines.find((l) => l.event === 'admin.signed_in');
    assert.equal(signedIn?.by, 'alice');
    assert.equal(signedIn?.role, 'operator');
  });
});

describe('an answer that does not belong to this sign-in is refused', () => {
  const cases: [string, () => void | Promise<void>, number, RegExp][] = [
    [
      'an ID token with another nonce',
      () => tamper((c) => ({ ...c, nonce: 'replayed-nonce' })),
      401,
      /sign_in_failed \(nonce does not match/,
    ],
    [
      'an ID token without a nonce',
      () => tamper(({ nonce: _, ...c }) => c),
      401,
      /sign_in_failed \(nonce does not match/,
    ],
    [
      'an ID token for another client',
      () => tamper((c) => ({ ...c, aud: 'another-client' })),
      401,
      /audience_mismatch/,
    ],
    [
      'an ID token for several audiences, issued to another party',
      () => tamper((c) => ({ ...c, aud: [CLIENT.id, 'another-client'], azp: 'another-client' })),
      401,
      /audience_mismatch \(azp is not this client\)/,
    ],
    [
      'an expired ID token',
      () => tamper((c) => ({ ...c, exp: 1_000_000, iat: 999_000 })),
      401,
      /token_expired/,
    ],
    [
      'an ID token signed with a key the operators issuer does not publish',
      async () => {
        idp.oidc!.signingKey = (await generateDevKey('ES256', 'ops-1')).privateJwk;
      },
      401,
      /bad_signature/,
    ],
    [
      'a user the IdP refuses',
      () => undefined,
      401,
      /sign_in_failed \(the identity provider answered access_denied\)/,
    ],
    ['a user with no role', () => undefined, 403, /insufficient_role/],
  ];
  const users = ['alice', 'alice', 'alice', 'alice', 'alice', 'alice', 'mallory', 'nobody'];
  for (const [i, [name, arrange, status, shown]] of cases.entries()) {
    test(`${name}: ${status}, no session`, async () => {
      await arrange();
      const done = await signIn(a, users[i]!);
      assert.equal(done.status, status, done.text);
      assert.match(done.text, shown);
      assert.equal(done.session, undefined);
    });
  }

  test('a discovery document naming another issuer: the sign-in does not start', async () => {
    const dir = tempDir();
    const config = withOperators(
      referenceConfig(dir, await keyRing(), { upstream: upstream.url }),
      dir,
      ops,
      {
        oidc: {
          discovery: `${idp.url}/.well-known/openid-configuration?other`,
          clientId: CLIENT.id,
          clientSecret: CLIENT.secret,
          redirectUrl,
        },
      },
    );
    const gw = await startTestGateway(config, { dir });
    try {
      idp.issuer = 'https://login.example.test/someone-else';
      const res = await fetch(`${gw.adminUrl}/dashboard/login/oidc`, { redirect: 'manual' });
      assert.equal(res.status, 502);
      assert.match(await res.text(), /names issuer https:\/\/login.example.test\/someone-else, not/);
    } finally {
      await gw.close();
    }
  });
});

function tamper(edit: (claims: JWTPayload) => JWTPayload): void {
  idp.oidc!.tamper = edit;
}
