import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_AUDIENCE, LOAD_ISSUER } from './enterprise-claims.js';
import { MAIL_PREFIX } from './gateway-config.js';

export interface HaproxyConfigOptions {
  readonly dir: string;
  readonly plainPort: number;
  readonly jwtPort: number;
  readonly upstreamPort: number;
  readonly publicPemPath: string;
}

/**
 * One HAProxy process, one thread, two frontends: a plain proxy and one that makes the checks
 * provgate makes on the same tokens (alg RS256, signature by the PEM key, exp and nbf against
 * the clock, iss, aud), refusing with 401.
 */
export function writeHaproxyConfig(o: HaproxyConfigOptions): string {
  const deny = 'http-request deny deny_status 401';
  const text = `global
  nbthread 1
  maxconn 4096
  tune.bufsize 32768

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 60s

frontend plain
  bind 127.0.0.1:${o.plainPort}
  default_backend mail

frontend jwt
  bind 127.0.0.1:${o.jwtPort}
  ${deny} unless { path_beg ${MAIL_PREFIX} }
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  ${deny} unless { var(txn.alg) -m str RS256 }
  ${deny} unless { var(txn.bearer),jwt_verify(txn.alg,"${o.publicPemPath}") -m int 1 }
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  ${deny} unless { var(txn.iss) -m str ${LOAD_ISSUER} }
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  ${deny} unless { var(txn.aud) -m str ${LOAD_AUDIENCE} }
  http-request set-var(txn.now) date()
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  ${deny} unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  http-request set-var(txn.nbf) var(txn.bearer),jwt_payload_query('$.nbf','int')
  ${deny} unless { var(txn.now),sub(txn.nbf) -m int ge 0 }
  default_backend mail

backend mail
  server upstream 127.0.0.1:${o.upstreamPort}
`;
  const path = join(o.dir, 'haproxy.cfg');
  writeFileSync(path, text);
  return path;
}

/**
 * An upstream that costs almost nothing: HAProxy answering the mail body itself. It shares a
 * core with the load generator, so the cheaper it is, the faster a target can be driven
 * before the driver's core, not the target, sets the limit.
 */
export function writeStaticUpstreamConfig(dir: string, name: string, port: number, bodyPath: string): string {
  const text = `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 60s

frontend mail_api
  bind 127.0.0.1:${port}
  http-request return status 200 content-type "application/json; charset=utf-8" file ${bodyPath}
`;
  const path = join(dir, `${name}.cfg`);
  writeFileSync(path, text);
  return path;
}
