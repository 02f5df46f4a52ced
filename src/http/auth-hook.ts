import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import type { CompiledRoute } from '../config/compile-routes.js';
import { KeyRefetchPending } from '../keys/key-refetch.js';
import { redactUrl } from '../observability/logger.js';
import type { RequestStats } from '../observability/request-stats.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { socketAddress } from '../protection/client-address.js';
import { routablePath } from '../proxy/match-route.js';
import { sendRefusal } from '../proxy/refusal-reply.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { checkRoute } from '../verify/check-route.js';
import { extractBearer } from '../verify/extract-bearer.js';
import { tokenFingerprint } from '../verify/fingerprint.js';
import { REASONS, severityOf } from '../verify/reasons.js';

export interface AuthHookDeps {
  /** The configuration generation in force (routes, verifier, protection); a reload replaces it. */
  readonly runtime: { readonly current: GatewayRuntime };
  readonly revocations: RevocationService;
  readonly events: SecurityEvents;
  readonly clock: () => number;
  /** Fixed for the life of the listener: it sizes Node's header limit (see app.ts). */
  readonly maxTokenBytes: number;
  /** Verification time and which key signed; recorded without allocating (see request-stats.ts). */
  readonly stats?: RequestStats | undefined;
}

/**
 * The whole pipeline, in onRequest so that nothing of a refused request's body is read.
 * Every step throws an AuthFailure; this hook is the one place that turns it into a reply.
 */
export function createAuthHook(deps: AuthHookDeps): onRequestHookHandler {
  return function authenticate(request, reply, done) {
    // Read once: this request is served under this generation whatever a reload does meanwhile.
    const runtime = deps.runtime.current;
    request.runtime = runtime;
    runtime.authenticating += 1;
    pipeline(runtime, request, reply, done, true);
  };

  function pipeline(
    runtime: GatewayRuntime,
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    mayRefetch: boolean,
  ): void {
    const protection = runtime.protection;
    let route: CompiledRoute | undefined;
    let token: string | undefined;
    let ip: string | undefined;
    try {
      if (protection !== undefined) {
        // First, before routing and any token work: a denied or blocked source costs nothing more.
        ip = protection.clientAddress(request.raw);
        protection.admitSource(ip);
      }
      const path = routablePath(request.url);
      route = path === undefined ? undefined : runtime.matcher.match(path);
      if (route === undefined) throw new AuthFailure('no_route');
      request.gatewayRoute = route;
      if (deps.revocations.isStale()) throw new AuthFailure('revocation_state_stale');
      token = extractBearer(request.raw.rawHeaders, deps.maxTokenBytes);
      const started = deps.stats === undefined ? 0 : performance.now();
      const verified = runtime.verifier.verify(token, mayRefetch);
      deps.stats?.verified(verified.key, started);
      checkRoute(verified, route, deps.revocations.mirror, deps.clock());
      if (protection !== undefined) protection.admitToken(verified, route, ip as string, reply);
      request.auth = verified;
    } catch (err) {
      if (err instanceof KeyRefetchPending) {
        // An unknown kid while the issuer's key set is being refetched (the only async path):
        // wait for that one shared, time-bounded fetch, then run once more without refetch.
        void err.settled.then(() => pipeline(runtime, request, reply, done, false));
        return;
      }
      runtime.authenticating -= 1;
      if (!(err instanceof AuthFailure)) {
        done(err as Error);
        return;
      }
      refuse(request, reply, err, route, token, ip, deps.events);
      return;
    }
    runtime.authenticating -= 1;
    done();
  }
}

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  failure: AuthFailure,
  route: CompiledRoute | undefined,
  token: string | undefined,
  ip: string | undefined,
  events: SecurityEvents,
): void {
  const { reason, detail } = failure;
  const severity = severityOf(reason, {
    signatureValid: detail.signatureValid,
    alg: detail.alg,
    routeMintsTokens: route?.mintsTokens,
  });
  const q = request.url.indexOf('?');
  events.refused({
    event: 'auth.refused',
    reason,
    severity,
    status: REASONS[reason].status,
    route: route?.name,
    method: request.method,
    // A client may put its token in the path too: the event names the path without it.
    path: redactUrl(q === -1 ? request.url : request.url.slice(0, q)),
    ip: ip ?? socketAddress(request.raw),
    claimedIssuer: detail.claimedIssuer,
    issuerId: detail.issuerId,
    keyIssuer: detail.keyIssuer,
    kid: detail.kid,
    alg: detail.alg,
    sub: detail.sub,
    jti: detail.jti,
    tokenFingerprint: token === undefined ? undefined : tokenFingerprint(token),
    signatureValid: detail.signatureValid,
    note: detail.note,
  });
  sendRefusal(reply, reason, detail.retryAfterSeconds);
}
