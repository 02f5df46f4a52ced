import type { OperatorsConfig } from '../config/schema.js';
import type { Claims } from '../verify/parse-token.js';

/** `viewer` reads; `operator` also changes state (revoke, unrevoke, block, unblock, reload). */
export type AdminRole = 'viewer' | 'operator';

/** Who is asking the admin listener, as the gateway established it: never as the request says. */
export interface AdminActor {
  /** What the audit trail records as `by`: the operator's `sub`, or `static-token`. */
  readonly by: string;
  /** The issuer id of the operator's token; undefined for the static token. */
  readonly issuer: string | undefined;
  readonly role: AdminRole;
  readonly via: 'operator-token' | 'static-token' | 'dashboard-session';
  /** A display name (`name`, `preferred_username` or `email`) when the sign-in gave one. */
  readonly name: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin guard once the request is authenticated (admin listener only). */
    adminActor: AdminActor | undefined;
  }
}

export const STATIC_TOKEN_ACTOR: AdminActor = {
  by: 'static-token',
  issuer: undefined,
  role: 'operator',
  via: 'static-token',
  name: undefined,
};

export function roleAllows(role: AdminRole, required: AdminRole): boolean {
  return role === 'operator' || required === 'viewer';
}

/**
 * The role a token's claims grant: any one value of `roles.operator` makes an operator, else any
 * one of `roles.viewer` a viewer. Values come from the configured claims, each a space-separated
 * string (`scp`, `scope`) or a list of strings (`roles`, `groups`); anything else is ignored.
 */
export function roleOf(claims: Claims, operators: OperatorsConfig): AdminRole | undefined {
  const granted = new Set<string>();
  for (const name of operators.roleClaims) {
    const value = claims[name];
    if (typeof value === 'string') for (const v of value.split(' ')) granted.add(v);
    else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') granted.add(v);
  }
  granted.delete('');
  if (operators.roles.operator.some((v) => granted.has(v))) return 'operator';
  if (operators.roles.viewer.some((v) => granted.has(v))) return 'viewer';
  return undefined;
}

const NAME_LIMIT = 128;

/** What the dashboard shows for the signed-in operator: bounded, never markup (the page escapes it). */
export function displayNameOf(claims: Claims): string | undefined {
  for (const claim of ['name', 'preferred_username', 'email']) {
    const value = claims[claim];
    if (typeof value === 'string' && value.trim() !== '') return value.trim().slice(0, NAME_LIMIT);
  }
  return undefined;
}

/** The audit facts of a change: who (set by the guard, never by the caller) and the caller's note. */
export function actorFacts(
  actor: AdminActor | undefined,
  note?: string | undefined,
): { by: string; byIssuer: string | undefined; note: string | undefined } {
  return { by: actor?.by ?? 'unknown', byIssuer: actor?.issuer, note };
}
