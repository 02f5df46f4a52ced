import type { Config } from './schema.js';

/**
 * What a route's `introspection:` asks of the rest of the configuration, each problem with its
 * path: the issuer exists and the route accepts it, and the endpoint is given or can be found in
 * that issuer's discovery document.
 */
export function introspectionProblems(config: Config): string[] {
  const problems: string[] = [];
  for (const [i, route] of config.routes.entries()) {
    const introspection = route.introspection;
    if (introspection === undefined) continue;
    const path = `routes.${i}.introspection`;
    const issuer = config.issuers[introspection.issuer];
    if (issuer === undefined) {
      problems.push(`${path}.issuer: unknown issuer ${introspection.issuer}`);
      continue;
    }
    if (!route.issuers.includes(introspection.issuer)) {
      problems.push(`${path}.issuer: the route does not accept ${introspection.issuer}`);
    }
    if (introspection.endpoint === undefined && issuer.keys.discovery === undefined) {
      problems.push(
        `${path}.endpoint: required, as issuers.${introspection.issuer}.keys has no discovery document to find introspection_endpoint in`,
      );
    }
  }
  return problems;
}
