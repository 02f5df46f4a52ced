import { createHash, randomBytes } from 'node:crypto';
import { cookieValue, type DashboardSessions, sameText } from './dashboard-session.js';

export const FLOW_COOKIE = 'provgate_oidc';
const FLOW_SECONDS = 600;

/** One browser's sign-in in progress: what goes to the IdP, and what must come back. */
export interface SignInFlow {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly codeChallenge: string;
}

/**
 * The sign-in flow without server-side state, so the IdP may send the browser back to any
 * instance. `state` is random; the PKCE verifier and the nonce are MACs of it under the session
 * key, so only an instance of this gateway can know them, and the browser holds nothing but a
 * cookie binding the state to itself (login CSRF): `<state>.<expiry>.<mac>`.
 */
export function startFlow(sessions: DashboardSessions, nowMs: number): { flow: SignInFlow; cookie: string } {
  const state = randomBytes(32).toString('base64url');
  const expires = Math.floor(nowMs / 1000) + FLOW_SECONDS;
  const body = `${state}.${expires}`;
  return { flow: flowOf(sessions, state), cookie: `${body}.${sessions.mac(`oidc-flow.${body}`)}` };
}

/** The flow the callback belongs to: its `state` must be the one this browser's cookie holds. */
export function resumeFlow(
  sessions: DashboardSessions,
  cookieHeader: string | undefined,
  state: string | undefined,
  nowMs: number,
): SignInFlow | string {
  const cookie = cookieValue(cookieHeader, FLOW_COOKIE);
  if (cookie === undefined) return 'no sign-in in progress in this browser (or it took over 10 minutes)';
  const parts = cookie.split('.');
  if (parts.length !== 3) return 'the sign-in cookie is malformed';
  const [cookieState, expires, mac] = parts as [string, string, string];
  if (!sameText(mac, sessions.mac(`oidc-flow.${cookieState}.${expires}`)))
    return 'the sign-in cookie is not this gateway’s';
  if (Number(expires) * 1000 <= nowMs) return 'the sign-in took over 10 minutes';
  if (state === undefined || !sameText(state, cookieState))
    return 'state does not match the sign-in this browser started';
  return flowOf(sessions, cookieState);
}

function flowOf(sessions: DashboardSessions, state: string): SignInFlow {
  const codeVerifier = sessions.mac(`oidc-pkce.${state}`);
  return {
    state,
    nonce: sessions.mac(`oidc-nonce.${state}`),
    codeVerifier,
    codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url'),
  };
}

export function flowCookieHeader(value: string, secure: boolean): string {
  // Lax, not Strict: the IdP's redirect back is a cross-site navigation, on which Strict is not sent.
  return `${FLOW_COOKIE}=${value}; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=${FLOW_SECONDS}${secure ? '; Secure' : ''}`;
}

export const CLEAR_FLOW_COOKIE = `${FLOW_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=0`;
