import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { RouteMatcher, routablePath } from '../../../src/proxy/match-route.js';

function route(name: string, prefix: string): CompiledRoute {
  return {
    name,
    prefix,
    upstream: 'http://127.0.0.1:9090',
    audiences: new Set(['https://mail.example.test']),
    issuers: new Set(['enterprise']),
    scopes: [],
    mintsTokens: false,
    mintIssuers: new Set(),
    lineage: new Map(),
    allowDelegation: false,
    forwardToken: true,
    rewritePrefix: undefined,
    timeoutMs: 30_000,
    bodyIdleTimeoutMs: 10_000,
    senderConstraint: 'none',
    dpopAlgorithms: new Set(['ES256']),
    dpopAlgs: 'ES256',
  };
}

/** The name of the route serving `url`, as the gateway decides it. */
function routeFor(matcher: RouteMatcher, url: string): string | undefined {
  const path = routablePath(url);
  return path === undefined ? undefined : matcher.match(path)?.name;
}

describe('RouteMatcher: longest prefix on whole segments', () => {
  // Declared shortest first, so that the order of the list is not what decides.
  const matcher = new RouteMatcher([
    route('api', '/api'),
    route('mail', '/api/mail'),
    route('attachments', '/api/mail/attachments'),
    route('token', '/api/token'),
  ]);

  test('the longest matching prefix wins', () => {
    assert.equal(routeFor(matcher, '/api/mail/attachments/1'), 'attachments');
    assert.equal(routeFor(matcher, '/api/mail/messages'), 'mail');
    assert.equal(routeFor(matcher, '/api/other'), 'api');
    assert.equal(routeFor(matcher, '/api/token'), 'token');
  });

  test('a prefix matches the exact path and paths below it, never a longer segment', () => {
    assert.equal(routeFor(matcher, '/api/mail'), 'mail');
    assert.equal(routeFor(matcher, '/api/mail/'), 'mail');
    assert.equal(routeFor(matcher, '/api/mailbox'), 'api');
    assert.equal(routeFor(matcher, '/api/mail/attachmentsX'), 'mail');
    assert.equal(routeFor(matcher, '/apix'), undefined);
    assert.equal(routeFor(matcher, '/'), undefined);
    assert.equal(routeFor(matcher, '/API/mail'), undefined);
  });

  test('the query string plays no part in routing', () => {
    assert.equal(routeFor(matcher, '/api/mail/messages?next=/api/token'), 'mail');
    assert.equal(routeFor(matcher, '/apix?x=/api/mail'), undefined);
    assert.equal(routeFor(matcher, '/api/mail?p=../token'), 'mail');
  });

  test('a "/" route catches what nothing longer serves', () => {
    const withRoot = new RouteMatcher([route('root', '/'), route('mail', '/api/mail')]);
    assert.equal(routeFor(withRoot, '/anything/at/all'), 'root');
    assert.equal(routeFor(withRoot, '/api/mail/x'), 'mail');
  });
});

describe('routablePath: paths an upstream could normalise into another route are not routable', () => {
  const matcher = new RouteMatcher([route('mail', '/api/mail'), route('token', '/api/token')]);

  test('dot segments, plain or percent-encoded in any case', () => {
    for (const url of [
      '/api/mail/../token',
      '/api/mail/..',
      '/api/mail/./x',
      '/api/mail/.',
      '/api/mail/%2e%2e/token',
      '/api/mail/%2E%2E/token',
      '/api/mail/.%2e/token',
      '/api/mail/%2e./token',
      '/api/mail/%2e/x',
      '/../api/mail',
    ]) {
      assert.equal(routablePath(url), undefined, url);
      assert.equal(routeFor(matcher, url), undefined, url);
    }
  });

  test('encoded slashes and backslashes', () => {
    for (const url of [
      '/api/mail%2f..%2ftoken',
      '/api/mail%2F..%2Ftoken',
      '/api/mail/x%2fy',
      '/api/mail/..%5ctoken',
      '/api/mail/%5C',
      '/api/mail\\..\\token',
    ]) {
      assert.equal(routablePath(url), undefined, url);
    }
  });

  test('a request target that is not an absolute path', () => {
    for (const url of ['*', 'http://evil.test/api/mail', 'api/mail', '']) {
      assert.equal(routablePath(url), undefined, url);
    }
  });

  test('dots that are not dot segments stay routable', () => {
    assert.equal(routeFor(matcher, '/api/mail/.well-known'), 'mail');
    assert.equal(routeFor(matcher, '/api/mail/a..b'), 'mail');
    assert.equal(routeFor(matcher, '/api/mail/report.v2.pdf'), 'mail');
    assert.equal(routablePath('/api/mail/x?y=1'), '/api/mail/x');
  });
});
