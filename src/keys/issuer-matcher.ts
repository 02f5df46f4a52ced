// Multi-tenant issuers (`https://login.example.test/{tenantid}/v2.0`) are matched by plain string
// prefix and suffix comparison. No regular expression is ever built from configuration, so an
// issuer URL full of `.` or `+` cannot widen what it matches.

export const TENANT_PLACEHOLDER = '{tenantid}';

/** An issuer whose `iss` carries the tenant in one path segment. */
export interface IssuerTemplate {
  readonly template: string;
  readonly prefix: string;
  readonly suffix: string;
}

// A tenant is one path segment of plain characters: GUIDs, domain-like names, dev tenants.
// Anything else (a slash, a brace, percent-encoding, an empty segment) matches no template.
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether the configured `issuer` is a template at all (any brace makes it one, or an error). */
export function isTemplated(issuer: string): boolean {
  return issuer.includes('{') || issuer.includes('}');
}

/** Compiles a templated issuer, or explains why it is not a usable template. */
export function compileIssuerTemplate(issuer: string): IssuerTemplate | string {
  const at = issuer.indexOf(TENANT_PLACEHOLDER);
  if (at === -1) return `braces are allowed only as ${TENANT_PLACEHOLDER}`;
  const prefix = issuer.slice(0, at);
  const suffix = issuer.slice(at + TENANT_PLACEHOLDER.length);
  if (isTemplated(prefix) || isTemplated(suffix)) {
    return `only one ${TENANT_PLACEHOLDER} is allowed, and no other braces`;
  }
  // The tenant must be a whole path segment, so that a prefix can never end inside a host name.
  if (!/^https?:\/\/[^/]+\/(.*\/)?$/.test(prefix) || !(suffix === '' || suffix.startsWith('/'))) {
    return `${TENANT_PLACEHOLDER} must be a whole path segment of an http(s) URL`;
  }
  return { template: issuer, prefix, suffix };
}

/**
 * The tenant `iss` names under this template, or undefined when it does not match. Because the
 * tenant is one segment and the template's neighbours are `/`, two different templates can never
 * match the same `iss`: the duplicate-issuer check at load is the whole overlap check.
 */
export function tenantOf(template: IssuerTemplate, iss: string): string | undefined {
  const { prefix, suffix } = template;
  if (iss.length <= prefix.length + suffix.length) return undefined;
  if (!iss.startsWith(prefix) || !iss.endsWith(suffix)) return undefined;
  const tenant = iss.slice(prefix.length, iss.length - suffix.length);
  return TENANT.test(tenant) ? tenant : undefined;
}
