import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'provgate_session';
export const CSRF_HEADER = 'x-provgate-csrf';
const SESSION_SECONDS = 8 * 3600;
const VERSION = 'v1';

/**
 * Dashboard sessions without server-side state. A browser cannot send the admin bearer token on
 * a navigation, so the login form trades it for a cookie `v1.<expiry>.<nonce>.<mac>` whose MAC
 * is keyed by a key derived from admin.token: every instance sharing the token accepts it (a
 * load balancer may send the next request elsewhere), and changing the token ends every session.
 * The page's API calls must also carry a CSRF value derived from the session, which only the
 * page itself was given; with SameSite=Strict that makes cross-site requests doubly useless.
 */
export class DashboardSessions {
  private readonly key: Buffer;
  private readonly tokenDigest: Buffer;

  constructor(adminToken: string) {
    this.key = createHmac('sha256', adminToken).update('provgate dashboard session key').digest();
    this.tokenDigest = digest(adminToken);
  }

  /** Constant-time check of a token typed into the login form. */
  tokenMatches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  issue(nowMs: number): { value: string; maxAgeSeconds: number } {
    const expires = Math.floor(nowMs / 1000) + SESSION_SECONDS;
    const body = `${VERSION}.${expires}.${randomBytes(16).toString('base64url')}`;
    return { value: `${body}.${this.mac(body)}`, maxAgeSeconds: SESSION_SECONDS };
  }

  valid(value: string | undefined, nowMs: number): boolean {
    if (value === undefined) return false;
    const parts = value.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) return false;
    const expires = Number(parts[1]);
    if (!Number.isSafeInteger(expires) || expires * 1000 <= nowMs) return false;
    return sameText(parts[3]!, this.mac(parts.slice(0, 3).join('.')));
  }

  csrfFor(session: string): string {
    return this.mac(`csrf.${session}`);
  }

  /** A request made by the dashboard page: a valid session cookie and its CSRF header. */
  authorizes(request: FastifyRequest, nowMs: number): boolean {
    const session = sessionCookie(request.headers.cookie);
    if (session === undefined || !this.valid(session, nowMs)) return false;
    const csrf = request.headers[CSRF_HEADER];
    return typeof csrf === 'string' && sameText(csrf, this.csrfFor(session));
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}

export function sessionCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Equal-length MACs compared in constant time; a length mismatch reveals nothing secret. */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
