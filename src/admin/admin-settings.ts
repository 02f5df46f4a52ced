import { createHash } from 'node:crypto';
import type { AdminConfig, OperatorsConfig } from '../config/schema.js';
import { AllowedHosts } from './allowed-hosts.js';
import { DashboardSessions } from './dashboard-session.js';

/** What the admin listener derives from `admin:`, once per configuration (a reload may change it). */
export interface AdminSettings {
  readonly admin: AdminConfig;
  /** Some credential is configured: operator tokens or the static token. */
  readonly enabled: boolean;
  readonly operators: OperatorsConfig | undefined;
  readonly operatorAudiences: ReadonlySet<string>;
  /** SHA-256 of admin.token while it is accepted (no operators, or allowStaticToken). */
  readonly staticDigest: Buffer | undefined;
  /** Operators are configured and the static token is still accepted: each use is an incident. */
  readonly breakGlass: boolean;
  /** Undefined when nothing can sign the dashboard in. */
  readonly sessions: DashboardSessions | undefined;
  readonly hosts: AllowedHosts;
}

const derived = new WeakMap<AdminConfig, AdminSettings>();

export function adminSettings(admin: AdminConfig): AdminSettings {
  let settings = derived.get(admin);
  if (settings === undefined) {
    settings = derive(admin);
    derived.set(admin, settings);
  }
  return settings;
}

function derive(admin: AdminConfig): AdminSettings {
  const { operators, oidc, token } = admin;
  const staticAccepted = token !== undefined && (operators === undefined || admin.allowStaticToken);
  const staticDigest = staticAccepted ? sha256(token) : undefined;
  // Either secret keys the sessions, and changing either ends them; so does changing the roles.
  const secrets = [oidc?.clientSecret, staticAccepted ? token : undefined];
  const sessions = secrets.some((s) => s !== undefined)
    ? new DashboardSessions(
        Buffer.concat(secrets.map((s) => sha256(s ?? ''))),
        JSON.stringify({
          operators,
          oidc: oidc && { discovery: oidc.discovery, clientId: oidc.clientId, redirectUrl: oidc.redirectUrl },
        }),
        oidc?.sessionSeconds,
      )
    : undefined;
  const audience = operators?.audience;
  return {
    admin,
    enabled: operators !== undefined || staticAccepted,
    operators,
    operatorAudiences: new Set(
      audience === undefined ? [] : typeof audience === 'string' ? [audience] : audience,
    ),
    staticDigest,
    breakGlass: staticAccepted && operators !== undefined,
    sessions,
    hosts: new AllowedHosts(admin),
  };
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
