import type { Config, RouteConfig, SenderConstraintSetting } from './schema.js';

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
  /** Which proof of possession the route requires (a bound token is held to its binding anyway). */
  readonly senderConstraint: SenderConstraintSetting;
  /** DPoP proof algorithms accepted here, and the same space-separated for the challenge's `algs`. */
  readonly dpopAlgorithms: ReadonlySet<string>;
  readonly dpopAlgs: string;
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
    if (route.senderConstraint === 'mtls' && !seesClientCertificates(config)) {
      problems.push(
        `${path}.senderConstraint: mtls needs a listener that sees client certificates: listen.tls.requestCert, or listen.clientCertHeader with protection.trustedProxies`,
      );
    }
    routes.push(compileRoute(route, config));
  }
  if (config.listen.clientCertHeader !== 'none' && (config.protection?.trustedProxies.length ?? 0) === 0) {
    problems.push(
      'listen.clientCertHeader: needs protection.trustedProxies, the only peers whose certificate header is believed',
    );
  }
  return routes;
}

/** Whether a certificate can reach the gateway: from its own TLS handshake, or from a trusted proxy. */
function seesClientCertificates(config: Config): boolean {
  if (config.listen.tls?.requestCert === true) return true;
  return config.listen.clientCertHeader !== 'none' && (config.protection?.trustedProxies.length ?? 0) > 0;
}

function compileRoute(route: RouteConfig, config: Config): CompiledRoute {
  const dpopAlgorithms = route.dpopAlgorithms ?? config.dpop.algorithms;
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
    senderConstraint: route.senderConstraint,
    dpopAlgorithms: new Set(dpopAlgorithms),
    dpopAlgs: dpopAlgorithms.join(' '),
  };
}
