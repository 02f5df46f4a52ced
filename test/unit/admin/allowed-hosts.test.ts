import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AllowedHosts } from '../../../src/admin/allowed-hosts.js';
import { configSchema } from '../../../src/config/schema.js';

const admin = (input: Record<string, unknown>) => configSchema.shape.admin.parse(input);

test('by default: the listen address, localhost and loopback, with or without port, any case', () => {
  const hosts = new AllowedHosts(admin({ host: '10.1.2.3' }));
  for (const ok of [
    '10.1.2.3',
    '10.1.2.3:9901',
    'localhost:9901',
    'LocalHost',
    '127.0.0.1',
    '[::1]:9901',
    'localhost.',
  ])
    assert.ok(hosts.allows(ok), ok);
  for (const no of [
    'evil.example',
    'evil.example:9901',
    '10.1.2.4',
    'localhost.evil.example',
    'localhost:x',
    '[::1',
    '',
  ])
    assert.ok(!hosts.allows(no), no);
  assert.ok(hosts.allows(undefined), 'no Host (HTTP/1.0): no browser sent it');
});

test('on a wildcard address any IP literal is accepted (a probe names the pod IP), names are not', () => {
  const hosts = new AllowedHosts(admin({ host: '0.0.0.0' }));
  assert.ok(hosts.allows('10.244.1.7:9901'));
  assert.ok(hosts.allows('[fd00::7]:9901'));
  assert.ok(!hosts.allows('rebound.evil.example:9901'));
});

test('admin.allowedHosts replaces the default names; the sign-in redirect host is always added', () => {
  const hosts = new AllowedHosts(
    admin({
      host: '0.0.0.0',
      allowedHosts: ['admin.internal'],
      operators: { issuer: 'ops', audience: 'a', roles: { viewer: ['r'], operator: ['w'] } },
      oidc: {
        discovery: 'https://idp.example/.well-known/openid-configuration',
        clientId: 'c',
        clientSecret: 'a-client-secret-0123',
        redirectUrl: 'https://dash.example/dashboard/callback',
      },
    }),
  );
  assert.ok(hosts.allows('admin.internal:9901'));
  assert.ok(hosts.allows('dash.example'));
  assert.ok(!hosts.allows('localhost'));
  assert.ok(hosts.allows('10.0.0.1'), 'an address literal on the wildcard address, as before');
});
