import type { FastifyReplyFromHooks } from '@fastify/reply-from';
import type { CompiledRoute } from '../config/compile-routes.js';
import { cleanResponseHeaders, forwardHeaders, locationRewriter, upstreamFailed } from './upstream-hooks.js';

/** Where one route's requests go; computed once per configuration, read on every request. */
export interface UpstreamTarget {
  /** `http(s)://host:port`. */
  readonly origin: string;
  /** The path prefix the upstream sees instead of the route's; undefined: the path goes unchanged. */
  readonly rewrite: string | undefined;
  /** Characters of the request path the rewrite replaces. */
  readonly prefixLength: number;
  /** reply.from options: built here so that a request allocates none. */
  readonly replyOptions: FastifyReplyFromHooks;
}

export function upstreamTargetOf(route: CompiledRoute): UpstreamTarget {
  // The prefix as a path to cut: '/' routes cut nothing, so '/x' under rewrite '/v1' is '/v1/x'.
  const cut = route.prefix === '/' ? '' : route.prefix;
  let rewrite = route.rewritePrefix;
  if (rewrite === route.prefix) rewrite = undefined;
  if (rewrite !== undefined) {
    if (!rewrite.startsWith('/')) rewrite = `/${rewrite}`;
    // '/api' rewritten to '/' sends '/api/x' as '/x', not '//x'.
    if (rewrite.endsWith('/')) rewrite = rewrite.slice(0, -1);
  }
  return {
    origin: new URL(route.upstream).origin,
    rewrite,
    prefixLength: cut.length,
    replyOptions: {
      timeout: route.timeoutMs,
      rewriteRequestHeaders: forwardHeaders,
      rewriteHeaders: rewrite === undefined ? cleanResponseHeaders : locationRewriter(rewrite, cut),
      onError: upstreamFailed,
    },
  };
}

/** The upstream URL of a request path (the query string is added by reply-from, unchanged). */
export function upstreamUrl(target: UpstreamTarget, path: string): string {
  if (target.rewrite === undefined) return target.origin + path;
  const rewritten = target.rewrite + path.slice(target.prefixLength);
  return target.origin + (rewritten === '' ? '/' : rewritten);
}
