import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { Protection } from '../protection/protection.js';
import { RouteMatcher } from '../proxy/match-route.js';
import { UpstreamPools } from '../proxy/upstream-pools.js';
import { type UpstreamTarget, upstreamTargetOf } from '../proxy/upstream-route.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { IntrospectionStats } from '../verify/introspection/introspection-stats.js';
import { RouteIntrospection } from '../verify/introspection/route-introspection.js';
import { TokenVerifier } from '../verify/verify-token.js';
import type { CompiledConfig } from './compile-config.js';

/**
 * Everything the request path derives from one configuration. A request takes the generation in
 * force when it arrives and keeps it to the end (request.runtime), so a reload never changes the
 * rules under a request already being served.
 */
export interface GatewayRuntime {
  /** 1 for the configuration the gateway started with, one more for every applied reload. */
  readonly generation: number;
  readonly compiled: CompiledConfig;
  readonly matcher: RouteMatcher;
  readonly verifier: TokenVerifier;
  /** Undefined without a `protection:` section. */
  readonly protection: Protection | undefined;
  /** The key trust decisions every generation reads (src/trust/); undefined when none are kept. */
  readonly trust: TrustIndex | undefined;
  /** The routes' introspection steps (RFC 7662); undefined when no route asks. Closed when retired. */
  readonly introspection: RouteIntrospection | undefined;
  /** Where each route of this generation sends its requests. */
  readonly upstreams: ReadonlyMap<CompiledRoute, UpstreamTarget>;
  /** This generation's keep-alive pools, one per upstream origin; closed when it is retired. */
  readonly pools: UpstreamPools;
  /**
   * Requests inside their authentication step under this generation. That step is the only user
   * of the generation's key refreshers and protection rules (after it a request holds plain data:
   * its route and verified token), so those may stop once this is 0 after a reload.
   */
  authenticating: number;
}

export interface RuntimeDeps {
  readonly generation: number;
  readonly revocations: RevocationMirror;
  /** Key trust decisions shared by every generation (src/trust/); undefined: trust what sets serve. */
  readonly trust?: TrustIndex | undefined;
  readonly clock: () => number;
  readonly protection: Protection | undefined;
  /** Introspection counters that outlive a generation (/metrics); a fresh set when omitted. */
  readonly introspectionStats?: IntrospectionStats | undefined;
  /** Where the introspection steps say an endpoint went away or came back. */
  readonly logger?: Logger | undefined;
}

/** No I/O: key sets are loaded by compileConfig, protection is started by its owner. */
export function createRuntime(compiled: CompiledConfig, deps: RuntimeDeps): GatewayRuntime {
  const { config } = compiled;
  // A new verifier, so its cache starts empty: a cached verdict was reached under the old keys
  // and issuers. The first request of each token after a reload pays one signature check.
  const verifier = new TokenVerifier({
    registry: compiled.registry,
    revocations: deps.revocations,
    clock: deps.clock,
    cache: config.verification.cache,
    forgeryChecksPerSecond: config.verification.forgeryChecksPerSecond,
    keyRefetch: compiled.keySets,
    trust: deps.trust,
  });
  const pools = new UpstreamPools(config.upstreams);
  return {
    generation: deps.generation,
    compiled,
    matcher: new RouteMatcher(compiled.routes),
    verifier,
    protection: deps.protection,
    trust: deps.trust,
    // Built without I/O: an endpoint (or its discovery document) is first asked by a request.
    introspection: config.routes.some((r) => r.introspection !== undefined)
      ? new RouteIntrospection(config, compiled.routes, {
          clock: deps.clock,
          logger: deps.logger,
          stats: deps.introspectionStats ?? new IntrospectionStats(),
        })
      : undefined,
    upstreams: new Map(compiled.routes.map((route) => [route, upstreamTargetOf(route, pools)])),
    pools,
    authenticating: 0,
  };
}
