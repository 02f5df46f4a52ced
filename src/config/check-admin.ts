import type { Config } from './schema.js';

/**
 * What admin.operators and admin.oidc ask of the rest of the configuration, each problem with
 * its path: the operators issuer exists and is not a resource API, an issuer of role `operators`
 * is the one admin.operators names and no route accepts it, and an issuer that signs the
 * dashboard in can sign ID tokens that its own rules accept.
 */
export function adminProblems(config: Config): string[] {
  const problems: string[] = [];
  const operators = config.admin.operators;
  for (const [id, issuer] of Object.entries(config.issuers)) {
    if (issuer.role === 'operators' && operators?.issuer !== id) {
      problems.push(
        `issuers.${id}.role: operators, but admin.operators.issuer does not name ${id}; its tokens would be accepted nowhere`,
      );
    }
  }
  for (const [i, route] of config.routes.entries()) {
    for (const [j, id] of route.issuers.entries()) {
      if (config.issuers[id]?.role === 'operators') {
        problems.push(
          `routes.${i}.issuers.${j}: ${id} has role operators; its tokens are for the admin API only`,
        );
      }
    }
  }
  if (operators === undefined) return problems;
  const issuer = config.issuers[operators.issuer];
  if (issuer === undefined) {
    problems.push(`admin.operators.issuer: unknown issuer ${operators.issuer}`);
    return problems;
  }
  if (issuer.role === 'resource') {
    problems.push(
      `admin.operators.issuer: ${operators.issuer} has role resource; a token minted by a resource API never names an operator`,
    );
  }
  if (config.admin.oidc !== undefined) {
    if (issuer.issuer.includes('{')) {
      problems.push(
        `admin.oidc: ${operators.issuer} is a multi-tenant issuer; sign-in needs one exact issuer`,
      );
    }
    const typ = issuer.requireTyp?.toLowerCase().replace(/^application\//, '');
    if (typ !== undefined && typ !== 'jwt') {
      problems.push(
        `admin.oidc: ${operators.issuer} requires typ ${issuer.requireTyp}, which an ID token does not carry; sign-in could never succeed`,
      );
    }
  }
  return problems;
}
