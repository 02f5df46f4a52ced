import { randomBytes, randomUUID } from 'node:crypto';

export const LOAD_ISSUER = 'https://login.example.test/enterprise/v2.0';
export const LOAD_AUDIENCE = 'https://mail.example.test';
export const LOAD_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

const FIRST = ['Alice', 'Bogdan', 'Chiara', 'Dmitri', 'Esther', 'Farid', 'Grace', 'Hiro'];
const LAST = ['Example', 'Whitfield', 'Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Ivanova', 'Nakamura'];
const rand = (bytes: number): string => randomBytes(bytes).toString('base64url');

/**
 * Claims of the size and shape an enterprise identity provider puts in a mail API access token
 * (about 1 KB once signed with RS256), distinct per `n` so that no two tokens are equal.
 */
export function enterpriseClaims(n: number, nowSeconds: number, ttlSeconds = 3600): Record<string, unknown> {
  const given = FIRST[n % FIRST.length]!;
  const family = LAST[Math.floor(n / FIRST.length) % LAST.length]!;
  const upn = `${given}.${family}${n}@contoso.example`.toLowerCase();
  return {
    aud: LOAD_AUDIENCE,
    iss: LOAD_ISSUER,
    iat: nowSeconds - 60,
    nbf: nowSeconds - 60,
    exp: nowSeconds - 60 + ttlSeconds,
    amr: ['pwd', 'mfa'],
    appid: 'd3590ed6-52b3-4102-aeff-aad2292ab01c',
    ipaddr: `203.0.113.${n % 254}`,
    name: `${given} ${family}`,
    oid: randomUUID(),
    scp: 'Mail.Read Mail.Send User.Read',
    sub: rand(32),
    tid: LOAD_TENANT,
    upn,
    uti: rand(16),
    ver: '2.0',
    jti: randomUUID(),
  };
}
