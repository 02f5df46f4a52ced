import type { Config, RouteConfig } from './schema.js';

export interface CompiledRoute {
  readonly name: string;
  readonly prefix: string;
  readonly upstream: string;
  readonly audiences: ReadonlySet<string>;
  readonly issuers: ReadonlySet<string>;
  readonly scopes: readonly string[];
  readonly mintsTokens: boolean;
  readonly allowDelegation: boolean;
  readonly forwardToken: boolean;
  readonly rewritePrefix: string | undefined;
  readonly timeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
}

export function compileRoutes(config: Config, problems: string[]): CompiledRoute[] {
  const names = new Set<string>();
  const prefixes = new Set<string>();
  const routes: CompiledRoute[] = [];
  for (const [i, route] of config.routes.entries()) {
    const path = `routes.${i}`;
    if (names.has(route.name)) problems.push(`${path}.name: duplicate route name ${route.name}`);
    if (prefixes.has(route.prefix)) problems.push(`${path}.prefix: duplicate prefix ${route.prefix}`);
    names.add(route.name);
    prefixes.add(route.prefix);
    for (const [j, id] of route.issuers.entries()) {
      const issuer = config.issuers[id];
      if (issuer === undefined) problems.push(`${path}.issuers.${j}: unknown issuer ${id}`);
      else if (route.mintsTokens && issuer.role === 'resource') {
        problems.push(
          `${path}.issuers.${j}: ${id} has role resource; a token-minting route never accepts a resource-minted token`,
        );
      }
    }
    routes.push(compileRoute(route));
  }
  return routes;
}

function compileRoute(route: RouteConfig): CompiledRoute {
  return {
    name: route.name,
    prefix: route.prefix,
    upstream: route.upstream,
    audiences: new Set(typeof route.audience === 'string' ? [route.audience] : route.audience),
    issuers: new Set(route.issuers),
    scopes: route.scopes,
    mintsTokens: route.mintsTokens,
    allowDelegation: route.allowDelegation,
    forwardToken: route.forwardToken,
    rewritePrefix: route.rewritePrefix,
    timeoutMs: route.timeoutSeconds * 1000,
    bodyIdleTimeoutMs: route.bodyIdleTimeoutSeconds * 1000,
  };
}
