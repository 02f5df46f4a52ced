import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminProblems } from '../../../src/config/check-admin.js';
import { configSchema } from '../../../src/config/schema.js';

const OIDC = {
  discovery: 'https://login.example.test/ops/.well-known/openid-configuration',
  clientId: 'provgate-dashboard',
  clientSecret: 'a-client-secret-0123456789',
  redirectUrl: 'https://admin.example.test/dashboard/callback',
};
const OPERATORS = { issuer: 'ops', audience: 'provgate-admin', roles: { viewer: ['r'], operator: ['w'] } };

function config(o: {
  issuers?: Record<string, unknown>;
  admin?: Record<string, unknown>;
  routeIssuers?: string[];
}) {
  const issuer = (iss: string, role: string, extra: Record<string, unknown> = {}) => ({
    issuer: iss,
    role,
    keys: { file: 'k.json' },
    algorithms: ['ES256'],
    ...extra,
  });
  return configSchema.parse({
    issuers: Object.fromEntries(
      Object.entries({
        enterprise: issuer('https://e.example.test', 'identity-provider'),
        owa: issuer('https://owa.example.test', 'resource'),
        ops: issuer('https://ops.example.test', 'operators'),
        ...o.issuers,
      }).filter(([, v]) => v !== undefined),
    ),
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:1',
        audience: 'a',
        issuers: o.routeIssuers ?? ['enterprise'],
      },
    ],
    admin: { operators: OPERATORS, ...o.admin },
  });
}

test('a sound operators setup has no problems, with an operators-only issuer or an identity provider', () => {
  assert.deepEqual(adminProblems(config({ admin: { oidc: OIDC } })), []);
  assert.deepEqual(
    adminProblems(
      config({ issuers: { ops: undefined }, admin: { operators: { ...OPERATORS, issuer: 'enterprise' } } }),
    ),
    [],
  );
});

test('every problem with its path', () => {
  assert.deepEqual(adminProblems(config({ routeIssuers: ['enterprise', 'ops'] })), [
    'routes.0.issuers.1: ops has role operators; its tokens are for the admin API only',
  ]);
  assert.deepEqual(adminProblems(config({ admin: { operators: { ...OPERATORS, issuer: 'nobody' } } })), [
    'issuers.ops.role: operators, but admin.operators.issuer does not name ops; its tokens would be accepted nowhere',
    'admin.operators.issuer: unknown issuer nobody',
  ]);
  assert.deepEqual(adminProblems(config({ admin: { operators: { ...OPERATORS, issuer: 'owa' } } })), [
    'issuers.ops.role: operators, but admin.operators.issuer does not name ops; its tokens would be accepted nowhere',
    'admin.operators.issuer: owa has role resource; a token minted by a resource API never names an operator',
  ]);
  const typed = config({
    issuers: {
      ops: {
        issuer: 'https://ops.example.test',
        role: 'operators',
        keys: { file: 'k.json' },
        algorithms: ['ES256'],
        requireTyp: 'at+jwt',
      },
    },
    admin: { oidc: OIDC },
  });
  assert.deepEqual(adminProblems(typed), [
    'admin.oidc: ops requires typ at+jwt, which an ID token does not carry; sign-in could never succeed',
  ]);
});

test('the admin section alone: sign-in needs operators, allowStaticToken needs a token, redirect path, hosts without port', () => {
  const problems = configSchema.shape.admin.safeParse({
    oidc: { ...OIDC, redirectUrl: 'https://admin.example.test/elsewhere' },
    allowStaticToken: true,
    allowedHosts: ['admin.example.test:9901'],
  });
  assert.ok(!problems.success);
  const paths = problems.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).sort();
  // Every problem of the section in one run, the cross-field ones included.
  assert.deepEqual(paths, [
    'allowStaticToken: needs admin.token',
    'allowedHosts.0: a host name or address, without port',
    'oidc.redirectUrl: its path must be /dashboard/callback',
    'oidc: needs admin.operators: the sign-in gives the dashboard an operator of that issuer',
  ]);
  const cross = configSchema.shape.admin.safeParse({ oidc: OIDC, allowStaticToken: true });
  assert.deepEqual(
    cross.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    [
      'oidc: needs admin.operators: the sign-in gives the dashboard an operator of that issuer',
      'allowStaticToken: needs admin.token',
    ],
  );
});
