import type { CompiledRoute } from '../config/compile-routes.js';
import type { LocationRewrite } from './response-headers.js';
import type { UpstreamPool, UpstreamPools } from './upstream-pools.js';

/** Where one route's requests go; computed once per configuration, read on every request. */
export interface UpstreamTarget {
  /** `http(s)://host:port`. */
  readonly origin: string;
  /** The keep-alive pool of that origin in this configuration generation. */
  readonly pool: UpstreamPool;
  /** The path prefix the upstream sees instead of the route's; undefined: the path goes unchanged. */
  readonly rewrite: string | undefined;
  /** Characters of the request path the rewrite replaces. */
  readonly prefixLength: number;
  /** Set with `rewrite`: how a `Location` naming the upstream's path is mapped back. */
  readonly location: LocationRewrite | undefined;
  /** Arrival to the upstream's response headers, and the longest pause in its response body. */
  readonly timeoutMs: number;
  /** The longest pause in the client's request body. */
  readonly bodyIdleTimeoutMs: number;
  readonly forwardToken: boolean;
  /** The route's name, for logs. */
  readonly name: string;
}

export function upstreamTargetOf(route: CompiledRoute, pools: UpstreamPools): UpstreamTarget {
  // The prefix as a path to cut: '/' routes cut nothing, so '/x' under rewrite '/v1' is '/v1/x'.
  const cut = route.prefix === '/' ? '' : route.prefix;
  let rewrite = route.rewritePrefix;
  if (rewrite === route.prefix) rewrite = undefined;
  if (rewrite !== undefined) {
    if (!rewrite.startsWith('/')) rewrite = `/${rewrite}`;
    // '/api' rewritten to '/' sends '/api/x' as '/x', not '//x'.
    if (rewrite.endsWith('/')) rewrite = rewrite.slice(0, -1);
  }
  const origin = new URL(route.upstream).origin;
  return {
    origin,
    pool: pools.forOrigin(origin),
    rewrite,
    prefixLength: cut.length,
    location: rewrite === undefined ? undefined : { upstreamPrefix: rewrite, gatewayPrefix: cut },
    timeoutMs: route.timeoutMs,
    bodyIdleTimeoutMs: route.bodyIdleTimeoutMs,
    forwardToken: route.forwardToken,
    name: route.name,
  };
}

/**
 * The request target the upstream receives: the path (rewritten for the route) and the query
 * string unchanged. Always origin-form: the origin is the pool's, so no path can change the host.
 */
export function upstreamPath(target: UpstreamTarget, url: string): string {
  if (target.rewrite === undefined) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const rewritten = target.rewrite + path.slice(target.prefixLength);
  return (rewritten === '' ? '/' : rewritten) + (q === -1 ? '' : url.slice(q));
}
