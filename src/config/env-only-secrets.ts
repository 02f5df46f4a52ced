// Settings that hold a credential the gateway presents to someone else. They must name an
// environment variable (`${VAR}`) instead of holding the secret: a configuration file is read by
// many (reviews, check-config output, support bundles) and a secret in it is a secret leaked.
const WHOLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/** Paths below each route: `routes.<i>.<path>`. */
const ROUTE_SECRETS: readonly (readonly string[])[] = [
  ['introspection', 'clientSecret'],
  ['introspection', 'privateKeyJwt', 'jwk'],
];

/**
 * Problems of the parsed file before `${VAR}` expansion: each secret setting given must be one
 * whole `${VAR}` reference. The value itself is never part of the message.
 */
export function envOnlySecretProblems(raw: unknown): string[] {
  const problems: string[] = [];
  const routes = (raw as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) return problems;
  for (const [i, route] of routes.entries()) {
    for (const path of ROUTE_SECRETS) {
      let value: unknown = route;
      for (const key of path) value = (value as Record<string, unknown> | null)?.[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || !WHOLE_REFERENCE.test(value)) {
        problems.push(
          `routes.${i}.${path.join('.')}: a secret: write it as \${VARIABLE} and set that variable in the environment`,
        );
      }
    }
  }
  return problems;
}
