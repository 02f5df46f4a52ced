import type { IncomingMessage } from 'node:http';
import type { loadConfigFile } from '../../src/config/load-config.js';
import type { Authorization, authorize, PipelineDeps } from '../../src/http/request-pipeline.js';
import type { createLogger } from '../../src/observability/logger.js';
import type { RequestStats } from '../../src/observability/request-stats.js';
import type { SecurityEvents } from '../../src/observability/security-events.js';
import type { pushIdentityHeaders } from '../../src/proxy/identity-headers.js';
import type { RevocationMirror } from '../../src/revocation/revocation-mirror.js';
import type { RevocationRecord } from '../../src/revocation/revocation-record.js';
import type { compileConfig } from '../../src/runtime/compile-config.js';
import type { createRuntime, GatewayRuntime } from '../../src/runtime/gateway-runtime.js';
import type { VerifiedToken } from '../../src/verify/verify-token.js';
import { loadModule } from './gateway-modules.js';

/** The request pipeline of one configuration generation, built the way the server builds it. */
export interface HookPipeline {
  readonly runtime: GatewayRuntime;
  readonly deps: PipelineDeps;
  readonly mirror: RevocationMirror;
  readonly authorize: typeof authorize;
  readonly Authorization: typeof Authorization;
  readonly pushIdentityHeaders: typeof pushIdentityHeaders;
}

/**
 * Config file → loadConfigFile → compileConfig → createRuntime, a revocation mirror, request
 * stats and security events: what app.ts hands the Fastify hook, without Fastify or a socket.
 */
export async function hookPipeline(from: 'dist' | 'src', configPath: string): Promise<HookPipeline> {
  const load = <T>(path: string) => loadModule<T>(from, path);
  const [loadConfig, compile, runtimeModule, pipeline, headers, mirrorModule, stats, events, logger] =
    await Promise.all([
      load<{ loadConfigFile: typeof loadConfigFile }>('config/load-config'),
      load<{ compileConfig: typeof compileConfig }>('runtime/compile-config'),
      load<{ createRuntime: typeof createRuntime }>('runtime/gateway-runtime'),
      load<{ authorize: typeof authorize; Authorization: typeof Authorization }>('http/request-pipeline'),
      load<{ pushIdentityHeaders: typeof pushIdentityHeaders }>('proxy/identity-headers'),
      load<{ RevocationMirror: typeof RevocationMirror }>('revocation/revocation-mirror'),
      load<{ RequestStats: typeof RequestStats }>('observability/request-stats'),
      load<{ SecurityEvents: typeof SecurityEvents }>('observability/security-events'),
      load<{ createLogger: typeof createLogger }>('observability/logger'),
    ]);
  const loaded = loadConfig.loadConfigFile(configPath);
  const compiled = await compile.compileConfig(loaded.config, loaded.path);
  const mirror = new mirrorModule.RevocationMirror();
  const runtime = runtimeModule.createRuntime(compiled, {
    generation: 1,
    revocations: mirror,
    clock: Date.now,
    protection: undefined,
  });
  const deps: PipelineDeps = {
    revocations: { isStale: () => false, mirror },
    events: new events.SecurityEvents(logger.createLogger('silent')),
    clock: Date.now,
    maxTokenBytes: loaded.config.verification.maxTokenBytes,
    stats: new stats.RequestStats(compiled.routes),
  };
  return {
    runtime,
    deps,
    mirror,
    authorize: pipeline.authorize,
    Authorization: pipeline.Authorization,
    pushIdentityHeaders: headers.pushIdentityHeaders,
  };
}

/**
 * Revocations in force that the requests do not match, so that every lookup of the revocation
 * step finds a populated index (an empty one is skipped without a lookup).
 */
export function unrelatedRevocations(mirror: RevocationMirror, issuer: string, count: number): void {
  const at = new Date().toISOString();
  const audit = { reason: 'bench', by: 'bench', at, source: 'api' as const };
  for (let i = 0; i < count; i++) {
    mirror.apply({
      kind: 'token',
      issuer,
      jti: `revoked-${i}`,
      id: `bench-token-${i}`,
      expiresAt: Date.now() + 3_600_000,
      ...audit,
    } as RevocationRecord);
    mirror.apply({
      kind: 'subject',
      issuer,
      sub: `revoked-subject-${i}`,
      before: at,
      id: `bench-subject-${i}`,
      expiresAt: undefined,
      ...audit,
    } as RevocationRecord);
  }
}

/** A request as Node's parser hands it to the hook, for one token: what the pipeline reads of it. */
export function requestFor(token: string, url: string): IncomingMessage {
  const rawHeaders = [
    'Host',
    '127.0.0.1:8080',
    'User-Agent',
    'autocannon',
    'Accept',
    'application/json',
    'Authorization',
    `Bearer ${token}`,
  ];
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return {
    method: 'GET',
    url,
    rawHeaders,
    headers,
    socket: { remoteAddress: '127.0.0.1', encrypted: false },
  } as unknown as IncomingMessage;
}

/** One request through the pipeline and the identity headers, as the hook and the proxy leg run them. */
export function runRequest(
  p: HookPipeline,
  req: IncomingMessage,
  into: Authorization,
  out: string[],
): VerifiedToken {
  const verified = p.authorize(p.runtime, p.deps, req, req.url!, false, into);
  out.length = 0;
  p.pushIdentityHeaders(out, verified);
  return verified;
}
