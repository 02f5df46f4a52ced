import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AdminRole } from './admin-actor.js';

export const SESSION_COOKIE = 'provgate_session';
export const CSRF_HEADER = 'x-provgate-csrf';
const VERSION = 'v2';

/** Who a session belongs to, fixed at sign-in. */
export interface SessionIdentity {
  /** The operator's `sub`, or `static-token`. */
  readonly by: string;
  /** The operators issuer's id; absent for a static-token sign-in. */
  readonly issuer?: string | undefined;
  readonly role: AdminRole;
  readonly name?: string | undefined;
  /** The ID token's `iat`, `jti` and `kid`: revoking its subject, token, key or issuer ends the session. */
  readonly iat?: number | undefined;
  readonly jti?: string | undefined;
  readonly kid?: string | undefined;
}

/**
 * Dashboard sessions without server-side state. A browser cannot send a bearer token on a
 * navigation, so a sign-in (OpenID Connect, or the break-glass admin token) is traded for a cookie
 * `v2.<expiry>.<nonce>.<identity>.<mac>` whose MAC key is derived from the admin secrets and the
 * operators settings: every instance with the same configuration accepts it (a load balancer may
 * send the next request elsewhere), and changing a secret or the roles ends every session. The
 * page's API calls must also carry a CSRF value derived from the session, which only the page
 * itself was given; with SameSite=Strict that makes cross-site requests doubly useless.
 */
export class DashboardSessions {
  private readonly key: Buffer;

  /** `secret`: the keying material; `context`: settings whose change must end the sessions. */
  constructor(
    secret: string | Buffer,
    context = '',
    readonly lifetimeSeconds = 8 * 3600,
  ) {
    this.key = createHmac('sha256', secret).update(`provgate dashboard session key\0${context}`).digest();
  }

  issue(identity: SessionIdentity, nowMs: number): { value: string; maxAgeSeconds: number } {
    const expires = Math.floor(nowMs / 1000) + this.lifetimeSeconds;
    const who = Buffer.from(JSON.stringify(identity)).toString('base64url');
    const body = `${VERSION}.${expires}.${randomBytes(16).toString('base64url')}.${who}`;
    return { value: `${body}.${this.mac(body)}`, maxAgeSeconds: this.lifetimeSeconds };
  }

  /** The identity of a genuine, unexpired session; undefined for anything else. */
  read(value: string | undefined, nowMs: number): SessionIdentity | undefined {
    if (value === undefined || value.length > 4096) return undefined;
    const parts = value.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) return undefined;
    const expires = Number(parts[1]);
    if (!Number.isSafeInteger(expires) || expires * 1000 <= nowMs) return undefined;
    if (!sameText(parts[4]!, this.mac(parts.slice(0, 4).join('.')))) return undefined;
    try {
      const identity = JSON.parse(Buffer.from(parts[3]!, 'base64url').toString('utf8')) as SessionIdentity;
      return typeof identity.by === 'string' && (identity.role === 'viewer' || identity.role === 'operator')
        ? identity
        : undefined;
    } catch {
      return undefined;
    }
  }

  csrfFor(session: string): string {
    return this.mac(`csrf.${session}`);
  }

  /** A request made by the dashboard page: a valid session cookie and its CSRF header. */
  authorizes(request: FastifyRequest, nowMs: number): SessionIdentity | undefined {
    const session = sessionCookie(request.headers.cookie);
    const identity = this.read(session, nowMs);
    if (identity === undefined) return undefined;
    const csrf = request.headers[CSRF_HEADER];
    return typeof csrf === 'string' && sameText(csrf, this.csrfFor(session!)) ? identity : undefined;
  }

  /** A MAC under the session key, for other short-lived values of the sign-in (see oidc-flow.ts). */
  mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(header: string | undefined): string | undefined {
  return cookieValue(header, SESSION_COOKIE);
}

export function sessionCookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;

/** Equal-length MACs compared in constant time; a length mismatch reveals nothing secret. */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
