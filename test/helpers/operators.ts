// Shared by the admin tests: an issuer that names operators (role `operators`, its own key made
// at test time), the admin section that trusts it, operator tokens, and admin calls with them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { type DevKeyPair, generateDevKey, jwksOf } from '../../src/demo/dev-keys.js';
import { sign } from './gateway-fixture.js';
import { bodyOf } from './http.js';

export const OPS_ISS = 'https://login.example.test/operators/v2.0';
export const OPS_AUDIENCE = 'provgate-admin';
export const ROLES = { viewer: ['provgate.read'], operator: ['provgate.admin'] } as const;

let key: Promise<DevKeyPair> | undefined;

/** The operators issuer's signing key (asynchronous generation: see PITFALLS.md). */
export function opsKey(): Promise<DevKeyPair> {
  key ??= generateDevKey('ES256', 'ops-1');
  return key;
}

/**
 * `config` (a referenceConfig) with an `ops` issuer of role operators whose key set is written
 * into `dir`, and `admin.operators` naming it; `admin` adds to or overrides the admin section.
 */
export function withOperators(
  config: Record<string, unknown>,
  dir: string,
  ops: DevKeyPair,
  admin: Record<string, unknown> = {},
): Record<string, unknown> {
  writeFileSync(join(dir, 'ops.jwks.json'), JSON.stringify(jwksOf([ops])));
  const issuers = config.issuers as Record<string, unknown>;
  return {
    ...config,
    issuers: {
      ...issuers,
      ops: { issuer: OPS_ISS, role: 'operators', keys: { file: 'ops.jwks.json' }, algorithms: ['ES256'] },
    },
    admin: {
      host: '127.0.0.1',
      port: 0,
      operators: { issuer: 'ops', audience: OPS_AUDIENCE, roles: ROLES },
      ...admin,
    },
  };
}

/** An operator token for `sub` with the scope of `role` (none: a valid token granting no role). */
export function operatorToken(
  ops: DevKeyPair,
  sub: string,
  role: 'viewer' | 'operator' | 'none',
  extra: JWTPayload = {},
): Promise<string> {
  const scp = role === 'none' ? 'openid' : ROLES[role][0];
  return sign(ops, { iss: OPS_ISS, sub, aud: OPS_AUDIENCE, scp, ...extra });
}

export interface AdminAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** One admin API call with `token` as the bearer (`null`: no Authorization header). */
export async function adminAs(
  adminUrl: string,
  token: string | null,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: bodyOf(await res.text()) };
}
