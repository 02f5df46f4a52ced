import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OidcConfig } from '../../config/schema.js';
import type { RevocationService } from '../../revocation/revocation-service.js';
import type { GatewayRuntime } from '../../runtime/gateway-runtime.js';
import { AuthFailure } from '../../verify/auth-failure.js';
import { displayNameOf } from '../admin-actor.js';
import type { AdminGuard } from '../admin-auth.js';
import type { AdminSettings } from '../admin-settings.js';
import { type SessionIdentity, sameText, sessionCookieHeader } from '../dashboard-session.js';
import { OidcClient, OidcError } from '../oidc-client.js';
import { CLEAR_FLOW_COOKIE, flowCookieHeader, resumeFlow, startFlow } from '../oidc-flow.js';
import { verifyOperatorToken } from '../operator-token.js';
import { type LoginOptions, loginPage, PAGE_HEADERS, signedInPage } from './dashboard-page.js';

interface Deps {
  readonly guard: AdminGuard;
  readonly runtime: { readonly current: GatewayRuntime };
  readonly revocations: RevocationService;
  readonly clock: () => number;
}

// A wrong token costs the guesser this long, on top of the per-address limit on failures.
const FAILED_LOGIN_DELAY_MS = 300;

const clients = new WeakMap<OidcConfig, OidcClient>();

/** What the sign-in page offers under the settings in force. */
export function loginOptions(settings: AdminSettings): LoginOptions {
  const oidcIssuer =
    settings.admin.oidc === undefined || settings.operators === undefined
      ? undefined
      : settings.operators.issuer;
  return {
    oidcIssuer,
    staticToken:
      settings.staticDigest === undefined ? undefined : settings.breakGlass ? 'break-glass' : 'accepted',
  };
}

/**
 * The two ways into a dashboard session:
 * - OpenID Connect, authorization-code flow with PKCE (S256), `state` and `nonce`
 *   (GET /dashboard/login/oidc, then the IdP, then GET /dashboard/callback). The ID token goes
 *   through the gateway's own pipeline against the operators issuer's key set, its audience is
 *   the client id, its nonce the one this browser's flow derived, and its claims give the role;
 * - the static admin token typed into the form (POST /dashboard/login), while it is accepted.
 */
export function registerSignInRoutes(app: FastifyInstance, deps: Deps): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const page = (reply: FastifyReply, status: number, settings: AdminSettings, error?: string) =>
    reply
      .headers(PAGE_HEADERS)
      .code(status)
      .send(loginPage({ ...loginOptions(settings), error }));

  const blocked = (request: FastifyRequest, reply: FastifyReply, settings: AdminSettings): boolean => {
    const seconds = deps.guard.blockedSeconds(request, settings);
    if (seconds === undefined) return false;
    reply.header('retry-after', String(Math.max(1, Math.ceil(seconds))));
    void page(
      reply,
      403,
      settings,
      'Too many failed sign-ins from this address (blocked_source). Try later.',
    );
    return true;
  };

  app.post<{ Body: Record<string, string> | undefined }>('/dashboard/login', async (request, reply) => {
    const settings = deps.guard.settings();
    if (blocked(request, reply, settings)) return reply;
    const sessions = settings.sessions;
    if (settings.staticDigest === undefined || sessions === undefined)
      return page(reply, 404, settings, 'Signing in with the admin token is off.');
    const candidate = typeof request.body?.token === 'string' ? request.body.token : '';
    if (!deps.guard.staticTokenMatches(candidate, settings)) {
      deps.guard.countFailure(request);
      request.log.warn({ event: 'dashboard.login_failed', ip: request.ip }, 'dashboard sign-in refused');
      await sleep(FAILED_LOGIN_DELAY_MS);
      return page(reply, 401, settings, 'That is not the admin token.');
    }
    deps.guard.staticTokenUsed(request, settings);
    const identity: SessionIdentity = { by: 'static-token', role: 'operator' };
    deps.guard.signedIn(request, identity, 'static-token');
    const { value, maxAgeSeconds } = sessions.issue(identity, deps.clock());
    return reply
      .code(303)
      .header('set-cookie', sessionCookieHeader(value, maxAgeSeconds, request.protocol === 'https'))
      .header('location', '/dashboard')
      .send();
  });

  app.get('/dashboard/login/oidc', async (request, reply) => {
    const settings = deps.guard.settings();
    if (blocked(request, reply, settings)) return reply;
    const context = oidcContext(settings, deps.runtime);
    if (context === undefined)
      return page(reply, 404, settings, 'Sign-in through an identity provider is off.');
    const { client, sessions } = context;
    let endpoints: Awaited<ReturnType<OidcClient['discover']>>;
    try {
      endpoints = await client.discover(deps.clock());
    } catch (err) {
      request.log.warn(
        { event: 'dashboard.oidc_unavailable', err: (err as Error).message },
        'sign-in unavailable',
      );
      return page(reply, 502, settings, `The identity provider cannot be used: ${(err as Error).message}`);
    }
    const { flow, cookie } = startFlow(sessions, deps.clock());
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .header('set-cookie', flowCookieHeader(cookie, secureCookies(client.config)))
      .header('location', client.authorizationUrl(endpoints, flow))
      .send();
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/dashboard/callback',
    async (request, reply) => {
      const settings = deps.guard.settings();
      if (blocked(request, reply, settings)) return reply;
      const context = oidcContext(settings, deps.runtime);
      if (context === undefined)
        return page(reply, 404, settings, 'Sign-in through an identity provider is off.');
      const { client, sessions, issuerId } = context;
      reply.header('set-cookie', CLEAR_FLOW_COOKIE);
      const { code, state, error } = request.query;
      const refuse = (failure: AuthFailure, counts: boolean, status = 401) => {
        if (counts) deps.guard.countFailure(request);
        deps.guard.refusedEvent(request, failure, undefined);
        const note = failure.detail.note === undefined ? '' : ` (${failure.detail.note})`;
        return page(reply, status, settings, `Sign-in refused: ${failure.reason}${note}.`);
      };
      const now = deps.clock();
      const flow = resumeFlow(sessions, request.headers.cookie, state, now);
      if (typeof flow === 'string') return refuse(new AuthFailure('sign_in_failed', { note: flow }), true);
      if (error !== undefined) {
        // The IdP said no (the user cancelled, or may not use this client): not a guess at anything.
        return refuse(
          new AuthFailure('sign_in_failed', { note: `the identity provider answered ${error.slice(0, 64)}` }),
          false,
        );
      }
      if (code === undefined || code === '')
        return refuse(new AuthFailure('sign_in_failed', { note: 'no code' }), true);
      let idToken: string;
      try {
        idToken = await client.exchange(await client.discover(now), code, flow.codeVerifier);
      } catch (err) {
        if (!(err instanceof OidcError)) throw err;
        return refuse(new AuthFailure('sign_in_failed', { note: err.message }), true);
      }
      let identity: SessionIdentity;
      try {
        const verified = await verifyOperatorToken(idToken, deps, {
          issuerId,
          audiences: new Set([client.config.clientId]),
        });
        const { claims } = verified;
        // OpenID Connect Core 3.1.3.7: with several audiences, the token was issued to `azp`.
        if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp !== client.config.clientId)
          throw new AuthFailure('audience_mismatch', { sub: claims.sub, note: 'azp is not this client' });
        if (typeof claims.nonce !== 'string' || !sameText(claims.nonce, flow.nonce))
          throw new AuthFailure('sign_in_failed', {
            sub: claims.sub,
            note: 'nonce does not match this sign-in',
          });
        identity = {
          by: claims.sub ?? '',
          issuer: verified.issuer.id,
          role: deps.guard.roleOrRefuse(claims, settings),
          name: displayNameOf(claims),
          iat: claims.iat,
          jti: claims.jti,
          kid: verified.key.kid,
        };
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        const status =
          err.reason === 'insufficient_role' ? 403 : err.reason === 'revocation_state_stale' ? 503 : 401;
        return refuse(err, status === 401, status);
      }
      deps.guard.signedIn(request, identity, 'oidc');
      const { value, maxAgeSeconds } = sessions.issue(identity, now);
      return reply
        .headers(PAGE_HEADERS)
        .header('set-cookie', [
          CLEAR_FLOW_COOKIE,
          sessionCookieHeader(value, maxAgeSeconds, secureCookies(client.config)),
        ])
        .send(signedInPage());
    },
  );
}

function oidcContext(
  settings: AdminSettings,
  runtime: { readonly current: GatewayRuntime },
): { client: OidcClient; sessions: NonNullable<AdminSettings['sessions']>; issuerId: string } | undefined {
  const { oidc } = settings.admin;
  const { operators, sessions } = settings;
  if (oidc === undefined || operators === undefined || sessions === undefined) return undefined;
  const issuer = runtime.current.compiled.registry.byId.get(operators.issuer);
  if (issuer === undefined) return undefined;
  let client = clients.get(oidc);
  if (client === undefined) {
    client = new OidcClient(oidc, issuer.iss);
    clients.set(oidc, client);
  }
  return { client, sessions, issuerId: operators.issuer };
}

function secureCookies(oidc: OidcConfig): boolean {
  return new URL(oidc.redirectUrl).protocol === 'https:';
}
