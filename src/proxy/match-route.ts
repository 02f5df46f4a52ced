import type { CompiledRoute } from '../config/compile-routes.js';

/** Longest-prefix routing on whole path segments: /api/mail serves /api/mail/x, not /api/mailbox. */
export class RouteMatcher {
  private readonly byLength: readonly CompiledRoute[];

  constructor(routes: readonly CompiledRoute[]) {
    this.byLength = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(path: string): CompiledRoute | undefined {
    for (const route of this.byLength) {
      const p = route.prefix;
      if (p === '/') return route;
      if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47)) return route;
    }
    return undefined;
  }
}

// Dot segments and encoded separators would let the upstream normalise a path into a route
// other than the one the gateway authorised (/api/mail/../token); no route serves them.
const AMBIGUOUS_PATH = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)|%2f|%5c|\\/i;

/** The path part of a request URL, or undefined when it is ambiguous. */
export function routablePath(url: string): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path.charCodeAt(0) !== 47 || AMBIGUOUS_PATH.test(path)) return undefined;
  return path;
}
