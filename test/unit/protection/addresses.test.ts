import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressMatcher } from '../../../src/protection/address-matcher.js';
import { type Network, parseNetwork } from '../../../src/protection/cidr.js';
import { ClientAddressResolver, normalizeAddress } from '../../../src/protection/client-address.js';
import { parseDenyList } from '../../../src/protection/deny-list-file.js';

function matcher(...entries: string[]): AddressMatcher {
  return new AddressMatcher(entries.map((e) => parseNetwork(e) as Network));
}

describe('parseNetwork', () => {
  test('addresses and CIDRs of both families', () => {
    assert.deepEqual(parseNetwork('203.0.113.7'), { address: '203.0.113.7', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseNetwork('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    // IPv4-mapped entries are stored in the IPv4 form clients are named by.
    assert.deepEqual(parseNetwork('::ffff:198.51.100.0/120'), {
      address: '198.51.100.0',
      prefix: 24,
      family: 'ipv4',
    });
  });

  test('anything else is refused', () => {
    for (const bad of [
      '',
      'tor-exit',
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '10.0.0.0/x',
      '300.1.1.1',
      '10.0.0.0/8/8',
    ]) {
      assert.equal(parseNetwork(bad), undefined, bad);
    }
  });
});

describe('AddressMatcher', () => {
  test('matches subnets and single addresses of both families, and nothing when empty', () => {
    const m = matcher('203.0.113.0/24', '198.51.100.9', '2001:db8::/32');
    assert.equal(m.matches('203.0.113.200'), true);
    assert.equal(m.matches('203.0.114.1'), false);
    assert.equal(m.matches('198.51.100.9'), true);
    assert.equal(m.matches('198.51.100.10'), false);
    assert.equal(m.matches('2001:db8:1::5'), true);
    assert.equal(m.matches('2001:db9::5'), false);
    // Cached answers stay right.
    assert.equal(m.matches('203.0.113.200'), true);
    assert.equal(m.matches('203.0.114.1'), false);
    assert.equal(matcher().matches('203.0.113.1'), false);
  });
});

describe('deny-list files', () => {
  test('one entry a line, # comments, blank lines; bad lines named by line number', () => {
    const parsed = parseDenyList(
      '# Tor exits\n203.0.113.5\n\n  198.51.100.0/24   # a whole net\nexit-node-7\n10.0.0.0/40\n',
      'tor.txt',
    );
    assert.deepEqual(
      parsed.networks.map((n) => `${n.address}/${n.prefix}`),
      ['203.0.113.5/32', '198.51.100.0/24'],
    );
    assert.deepEqual(parsed.problems, [
      'tor.txt:5: not an address or CIDR: exit-node-7',
      'tor.txt:6: not an address or CIDR: 10.0.0.0/40',
    ]);
  });
});

describe('client address', () => {
  const resolver = new ClientAddressResolver(matcher('10.0.0.0/8', '2001:db8::/32'));

  test('IPv4-mapped socket addresses are named in IPv4 form', () => {
    assert.equal(normalizeAddress('::ffff:127.0.0.2'), '127.0.0.2');
    assert.equal(normalizeAddress('::1'), '::1');
    assert.equal(normalizeAddress(undefined), 'unknown');
  });

  test('X-Forwarded-For: the right-most address that is not a trusted proxy', () => {
    const from = (header: string) => resolver.fromForwardedFor(header, '10.0.0.1');
    assert.equal(from('198.51.100.7'), '198.51.100.7');
    assert.equal(from('198.51.100.7, 10.2.2.2, 10.3.3.3'), '198.51.100.7');
    // What the client wrote itself (left of the first untrusted hop) is never believed.
    assert.equal(from('1.1.1.1, 198.51.100.7, 10.2.2.2'), '198.51.100.7');
    // Ports and brackets, as some proxies write them.
    assert.equal(from('198.51.100.7:4711'), '198.51.100.7');
    assert.equal(from('[2001:db9::7]:443, [2001:db8::1]'), '2001:db9::7');
    // Only trusted proxies: the left-most of them is as far as the chain can be followed.
    assert.equal(from('10.9.9.9, 10.2.2.2'), '10.9.9.9');
    // A garbled entry: stop at the last hop that is vouched for.
    assert.equal(from('198.51.100.7, garbage, 10.2.2.2'), '10.2.2.2');
    assert.equal(from(''), '10.0.0.1');
  });
});
