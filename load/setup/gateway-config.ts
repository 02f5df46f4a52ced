import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LOAD_AUDIENCE, LOAD_ISSUER } from './enterprise-claims.js';
import type { SigningKey } from './signing-key.js';

export const MAIL_PREFIX = '/api/mail';
export const MAIL_PATH = `${MAIL_PREFIX}/v1.0/me/messages?$top=1`;

export interface GatewayConfigOptions {
  readonly dir: string;
  readonly name: string;
  readonly port: number;
  readonly adminPort: number;
  readonly upstream: string;
  readonly key: SigningKey;
  /** Verified-token cache entries; small to make every token of a 10,000 rotation a miss. */
  readonly cacheEntries?: number;
  /** `verification.cache.enabled: false`: every request verifies its signature, as HAProxy does. */
  readonly cacheOff?: boolean;
  /** `upstreams.connections`: the soak holds a thousand slow downloads open beside its traffic. */
  readonly upstreamConnections?: number;
}

export interface WrittenGatewayConfig {
  readonly path: string;
  readonly adminToken: string;
}

/** One issuer, one mail route: the same checks as the HAProxy config, plus provgate's own. */
export function writeGatewayConfig(o: GatewayConfigOptions): WrittenGatewayConfig {
  const adminToken = randomBytes(24).toString('base64url');
  const jwks = join(o.dir, 'enterprise.jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [o.key.publicJwk] }));
  const config = {
    listen: { host: '127.0.0.1', port: o.port },
    admin: { host: '127.0.0.1', port: o.adminPort, token: adminToken },
    issuers: {
      enterprise: {
        issuer: LOAD_ISSUER,
        role: 'identity-provider',
        keys: { file: jwks },
        algorithms: [o.key.alg],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: MAIL_PREFIX,
        upstream: o.upstream,
        audience: LOAD_AUDIENCE,
        issuers: ['enterprise'],
        scopes: ['Mail.Read'],
      },
    ],
    ...(o.cacheOff === true
      ? { verification: { cache: { enabled: false } } }
      : o.cacheEntries === undefined
        ? {}
        : { verification: { cache: { maxEntries: o.cacheEntries } } }),
    ...(o.upstreamConnections === undefined
      ? {}
      : { upstreams: { connections: o.upstreamConnections, maxQueued: o.upstreamConnections } }),
    log: { level: 'info' },
  };
  const path = join(o.dir, `${o.name}.yaml`);
  writeFileSync(path, stringify(config));
  return { path, adminToken };
}
