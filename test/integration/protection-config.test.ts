import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfigText } from '../../src/config/load-config.js';
import type { ProtectionConfig } from '../../src/config/schema.js';
import { compileProtection } from '../../src/protection/compile-protection.js';

const dir = mkdtempSync(join(tmpdir(), 'provgate-protection-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function parse(protection: unknown) {
  const config = {
    issuers: {
      enterprise: {
        issuer: 'https://login.example.test/enterprise/v2.0',
        role: 'identity-provider',
        keys: { file: 'enterprise.jwks.json' },
        algorithms: ['RS256'],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:9090',
        audience: 'a',
        issuers: ['enterprise'],
      },
    ],
    protection,
  };
  return parseConfigText(stringify(config), {});
}

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('protection section', () => {
  test('the issue’s example loads; omitted settings take their documented defaults', () => {
    const config = parse({
      trustedProxies: ['10.0.0.0/8'],
      denyNetworks: { cidrs: ['203.0.113.0/24'], mode: 'enforce' },
      rateLimits: [
        {
          name: 'mail-per-subject',
          key: 'subject',
          routes: ['mail'],
          limit: 600,
          windowSeconds: 60,
          mode: 'enforce',
        },
        { name: 'per-ip', key: 'ip', limit: 3000, windowSeconds: 60 },
      ],
      anomalies: { tokenReplay: {}, failureBurst: {}, criticalEvent: {}, volumeSpike: { routes: ['mail'] } },
    });
    const p = config.protection!;
    assert.equal(p.rateLimits[1]!.mode, 'enforce');
    assert.deepEqual(p.denyNetworks, {
      cidrs: ['203.0.113.0/24'],
      files: [],
      mode: 'enforce',
      pollSeconds: 5,
    });
    assert.deepEqual(p.anomalies.tokenReplay, { maxAddresses: 5, windowSeconds: 600, mode: 'monitor' });
    assert.deepEqual(p.anomalies.failureBurst, {
      maxFailures: 20,
      windowSeconds: 60,
      blockSeconds: 900,
      mode: 'monitor',
    });
    assert.deepEqual(p.anomalies.criticalEvent, { blockSeconds: 3600, mode: 'monitor' });
    assert.deepEqual(p.anomalies.volumeSpike, {
      factor: 10,
      floorPerMinute: 60,
      halfLifeSeconds: 3600,
      routes: ['mail'],
      blockSeconds: 900,
      mode: 'monitor',
    });
    assert.equal(p.shareIntervalMilliseconds, 100);
    assert.equal(parse(undefined).protection, undefined);
  });

  test('a bad CIDR, key or mode is refused with its path', () => {
    const found = problems(() =>
      parse({
        trustedProxies: ['10.0.0.0/33'],
        denyNetworks: { cidrs: ['203.0.113.0/24', 'tor-exits'], mode: 'block' },
        rateLimits: [{ name: 'x', key: 'user', limit: 0, windowSeconds: 60 }],
      }),
    );
    assert.deepEqual(found, [
      'protection.trustedProxies.0: must be an IP address or a CIDR such as 203.0.113.0/24',
      'protection.denyNetworks.cidrs.1: must be an IP address or a CIDR such as 203.0.113.0/24',
      'protection.denyNetworks.mode: Invalid option: expected one of "monitor"|"enforce"',
      'protection.rateLimits.0.key: Invalid option: expected one of "subject"|"token"|"ip"|"route"',
      'protection.rateLimits.0.limit: Too small: expected number to be >=1',
    ]);
  });

  test('routes are checked against the config, and deny-list files are read relative to it', () => {
    writeFileSync(join(dir, 'exits.txt'), '# exits\n203.0.113.7\nnot-an-address\n');
    const config: ProtectionConfig = parse({
      denyNetworks: { files: ['exits.txt', 'missing.txt'] },
      rateLimits: [
        { name: 'dup', key: 'ip', limit: 1, windowSeconds: 1 },
        { name: 'dup', key: 'ip', routes: ['mail', 'calendar'], limit: 1, windowSeconds: 1 },
      ],
      anomalies: { volumeSpike: { routes: ['attachments'] } },
    }).protection!;
    const found: string[] = [];
    const compiled = compileProtection(config, dir, ['mail'], found);
    assert.deepEqual(found, [
      'protection.rateLimits.1.name: duplicate rate limit dup',
      'protection.rateLimits.1.routes.1: unknown route calendar',
      `protection.denyNetworks.files.0: ${join(dir, 'exits.txt')}:3: not an address or CIDR: not-an-address`,
      `protection.denyNetworks.files.1: cannot read ${join(dir, 'missing.txt')} (ENOENT)`,
      'protection.anomalies.volumeSpike.routes.0: unknown route attachments',
    ]);
    assert.deepEqual(
      compiled!.denyList!.files[0]!.networks.map((n) => n.address),
      ['203.0.113.7'],
    );
  });
});
