import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRoutes } from '../../../src/config/compile-routes.js';
import { configSchema } from '../../../src/config/schema.js';

function problemsOf(patch: { issuers?: Record<string, object>; routes?: object[]; lineage?: object }) {
  const config = configSchema.parse({
    issuers: {
      enterprise: {
        issuer: 'https://idp',
        role: 'identity-provider',
        keys: { file: 'x' },
        algorithms: ['ES256'],
        ...patch.issuers?.enterprise,
      },
      owa: {
        issuer: 'https://owa',
        role: 'resource',
        keys: { file: 'x' },
        algorithms: ['ES256'],
        ...patch.issuers?.owa,
      },
    },
    routes: patch.routes ?? [],
    ...(patch.lineage === undefined ? {} : { lineage: patch.lineage }),
  });
  const problems: string[] = [];
  const routes = compileRoutes(config, problems);
  return { problems, routes };
}

const token = {
  name: 'token',
  prefix: '/api/token',
  upstream: 'http://u',
  audience: 'a',
  issuers: ['enterprise'],
  mintsTokens: true,
  mintIssuers: ['owa'],
};
const resource = {
  name: 'resource',
  prefix: '/api/resource',
  upstream: 'http://u',
  audience: 'a',
  issuers: ['enterprise', 'owa'],
};

test('lineage defaults: off, depth 1, 64 KiB, scopes narrow', () => {
  const config = configSchema.parse({
    issuers: { owa: { issuer: 'https://owa', role: 'resource', keys: { file: 'x' }, algorithms: ['ES256'] } },
    routes: [{ name: 'r', prefix: '/r', upstream: 'http://u', audience: 'a', issuers: ['owa'] }],
  });
  assert.equal(config.issuers.owa!.lineage, 'off');
  assert.deepEqual(config.lineage, { maxDepth: 1, maxResponseBytes: 65536, scopesMustNarrow: true });
  assert.deepEqual(config.routes[0]!.mintIssuers, []);
});

test('a route accepting a resource issuer with lineage on carries its setting; other routes none', () => {
  const { problems, routes } = problemsOf({
    issuers: { owa: { lineage: 'required' } },
    routes: [token, resource],
  });
  assert.deepEqual(problems, []);
  assert.deepEqual([...routes[1]!.lineage], [['owa', 'required']]);
  assert.equal(routes[0]!.lineage.size, 0);
  assert.deepEqual([...routes[0]!.mintIssuers], ['owa']);
});

test('every misconfiguration is named with its path', () => {
  const cases: [Parameters<typeof problemsOf>[0], RegExp][] = [
    [{ routes: [{ ...token, mintsTokens: false }] }, /^routes\.0\.mintIssuers: needs mintsTokens: true/],
    [
      { routes: [{ ...token, mintIssuers: ['enterprise'] }] },
      /^routes\.0\.mintIssuers\.0: enterprise has role identity-provider/,
    ],
    [
      { routes: [{ ...token, mintIssuers: ['nobody'] }] },
      /^routes\.0\.mintIssuers\.0: unknown issuer nobody/,
    ],
    [
      { issuers: { owa: { lineage: 'required' } }, routes: [resource] },
      /^issuers\.owa\.lineage: no route names owa in mintIssuers/,
    ],
    [
      { issuers: { enterprise: { lineage: 'monitor' } }, routes: [resource] },
      /^issuers\.enterprise\.lineage: only a resource issuer/,
    ],
    [
      { routes: [{ ...token, issuers: ['enterprise', 'owa'] }] },
      /^routes\.0\.issuers\.1: owa has role resource/,
    ],
  ];
  for (const [patch, expected] of cases) {
    const { problems } = problemsOf(patch);
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${expected}: ${JSON.stringify(problems)}`,
    );
  }
  // A chain of resource issuers is allowed once lineage.maxDepth says so.
  const chain = problemsOf({
    routes: [{ ...token, issuers: ['enterprise', 'owa'] }],
    lineage: { maxDepth: 2 },
  });
  assert.deepEqual(chain.problems, []);
});
