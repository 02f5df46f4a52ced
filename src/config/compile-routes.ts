import type { Config, LineageSetting, RouteConfig, SenderConstraintSetting } from './schema.js';

export interface CompiledRoute {
  readonly name: string;
  readonly prefix: string;
  readonly upstream: string;
  readonly audiences: ReadonlySet<string>;
  readonly issuers: ReadonlySet<string>;
  readonly scopes: readonly string[];
  readonly mintsTokens: boolean;
  /** The resource issuers this route's upstream mints for; empty: its answers are not read. */
  readonly mintIssuers: ReadonlySet<string>;
  /**
   * The resource issuers this route accepts whose tokens need a lineage record (`lineage:
   * monitor | required`), with their setting; empty for most routes, which then skip the step.
   */
  readonly lineage: ReadonlyMap<string, Exclude<LineageSetting, 'off'>>;
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
      else if (route.mintsTokens && issuer.role === 'resource' && config.lineage.maxDepth < 2) {
        problems.push(
          `${path}.issuers.${j}: ${id} has role resource; a token-minting route never accepts a resource-minted token (unless lineage.maxDepth allows chains)`,
        );
      }
    }
    lineageProblems(config, route, path, problems);
    if (route.senderConstraint === 'mtls' && !seesClientCertificates(config)) {
      problems.push(
        `${path}.senderConstraint: mtls needs a listener that sees client certificates: listen.tls.requestCert, or listen.clientCertHeader with protection.trustedProxies`,
      );
    }
    routes.push(compileRoute(route, config));
  }
  const minted = new Set(config.routes.flatMap((r) => r.mintIssuers));
  for (const [id, issuer] of Object.entries(config.issuers)) {
    if (issuer.lineage === 'off') continue;
    if (issuer.role !== 'resource') {
      problems.push(`issuers.${id}.lineage: only a resource issuer's tokens are minted by a route`);
    } else if (!minted.has(id)) {
      problems.push(
        `issuers.${id}.lineage: no route names ${id} in mintIssuers, so none of its tokens could ever have a lineage record`,
      );
    }
  }
  if (config.listen.clientCertHeader !== 'none' && (config.protection?.trustedProxies.length ?? 0) === 0) {
    problems.push(
      'listen.clientCertHeader: needs protection.trustedProxies, the only peers whose certificate header is believed',
    );
  }
  return routes;
}

/** `mintIssuers`: only on a minting route, only issuers of role resource. */
function lineageProblems(config: Config, route: RouteConfig, path: string, problems: string[]): void {
  if (route.mintIssuers.length > 0 && !route.mintsTokens)
    problems.push(`${path}.mintIssuers: needs mintsTokens: true`);
  for (const [j, id] of route.mintIssuers.entries()) {
    const issuer = config.issuers[id];
    if (issuer === undefined) problems.push(`${path}.mintIssuers.${j}: unknown issuer ${id}`);
    else if (issuer.role !== 'resource')
      problems.push(
        `${path}.mintIssuers.${j}: ${id} has role ${issuer.role}; a route mints only resource tokens`,
      );
  }
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
    mintIssuers: new Set(route.mintsTokens ? route.mintIssuers : []),
    lineage: new Map(
      route.issuers.flatMap((id) => {
        const setting = config.issuers[id]?.lineage ?? 'off';
        return setting === 'off' || config.issuers[id]?.role !== 'resource' ? [] : [[id, setting] as const];
      }),
    ),
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
