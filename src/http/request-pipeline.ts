import type { IncomingMessage } from 'node:http';
import type { CompiledRoute } from '../config/compile-routes.js';
import { KeyRefetchPending } from '../keys/key-refetch.js';
import { redactUrl } from '../observability/logger.js';
import type { RequestStats } from '../observability/request-stats.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { socketAddress } from '../protection/client-address.js';
import type { Protection } from '../protection/protection.js';
import { routablePath } from '../proxy/match-route.js';
import { type Refusal, refusalOf } from '../proxy/refusal-reply.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import type { SignalReceiver } from '../signals/signal-receiver.js';
import { AuthFailure, type ResponseHeaders } from '../verify/auth-failure.js';
import type { LineageCheck, PendingLineage } from '../verify/check-lineage.js';
import { checkProvenance } from '../verify/check-provenance.js';
import { checkRevocations } from '../verify/check-revocations.js';
import { checkScopes } from '../verify/check-scopes.js';
import type {
  PendingProof,
  SenderConstraint,
  SenderConstraintState,
} from '../verify/check-sender-constraint.js';
import { type CredentialScheme, readCredentials } from '../verify/extract-bearer.js';
import { tokenFingerprint } from '../verify/fingerprint.js';
import type { Introspector } from '../verify/introspection/introspector.js';
import { REASONS, severityOf } from '../verify/reasons.js';
import { tokenDetail } from '../verify/token-detail.js';
import type { VerifiedToken } from '../verify/verify-token.js';

/** What the steps read of a configuration generation. */
export type PipelineRuntime = Pick<GatewayRuntime, 'matcher' | 'verifier' | 'protection'> &
  Partial<Pick<GatewayRuntime, 'introspection'>>;

export interface PipelineDeps {
  /** Staleness and the mirror: the revocation service's request-path side. */
  readonly revocations: Pick<RevocationService, 'isStale' | 'mirror'>;
  readonly events: SecurityEvents;
  readonly clock: () => number;
  /** Fixed for the life of the listener: it sizes Node's header limit (see app.ts). */
  readonly maxTokenBytes: number;
  /** Verification time and which key signed; recorded without allocating (see request-stats.ts). */
  readonly stats?: RequestStats | undefined;
  /** Shared-signal blocks and stream-down refusals; undefined without a `signals:` section. */
  readonly signals?: Pick<SignalReceiver, 'check'> | undefined;
  /**
   * DPoP proofs and certificate bindings. Without it (tests of other steps) every bound token,
   * DPoP request and binding route is refused token_not_bound: never let through unchecked.
   */
  readonly senderConstraint?: SenderConstraint | undefined;
  /**
   * Lineage of minted tokens (src/lineage/). Without it a token that needs a lineage record is
   * refused lineage_unavailable: never let through unchecked.
   */
  readonly lineage?: LineageCheck | undefined;
}

/**
 * What authorize() learnt of one request, step by step: what a refusal is described from when a
 * step throws (route, client address, token fingerprint), and once authorize() returns, the route
 * and the headers to answer with. The caller owns it and may reuse it for its next request:
 * authorize() clears it first, and nothing in it outlives the caller's reading of it.
 */
export class Authorization implements SenderConstraintState {
  /** From source admission; undefined without a `protection:` section (nothing resolved it). */
  ip: string | undefined = undefined;
  /** From the route step. */
  route: CompiledRoute | undefined = undefined;
  /** From the credentials step: the access token, its scheme, the DPoP proof, certificate headers seen. */
  token: string | undefined = undefined;
  scheme: CredentialScheme | undefined = undefined;
  proof: string | undefined = undefined;
  certificateHeaders = 0;
  /**
   * From the sender-constraint step, with the Redis store: the shared replay check this DPoP
   * request still owes (await confirmProof before letting it through). Undefined otherwise.
   */
  pendingProof: PendingProof | undefined = undefined;
  /**
   * From the provenance step, with the Redis store: a minted token this instance's lineage
   * mirror does not know yet, and the one store lookup it owes (confirmPending). Undefined otherwise.
   */
  pendingLineage: PendingLineage | undefined = undefined;
  /**
   * From the last step, on a route with `introspection:`: the question to the token's issuer this
   * request still owes (confirmPending asks it, after everything else). Undefined otherwise.
   */
  pendingIntrospection: PendingIntrospection | undefined = undefined;
  /** Headers for the response to an admitted request (protection's, a new DPoP nonce). */
  headers: ResponseHeaders | undefined = undefined;

  /** A copy to hold across an await: the caller's Authorization serves its next request meanwhile. */
  held(): Authorization {
    const copy = new Authorization();
    copy.ip = this.ip;
    copy.route = this.route;
    copy.token = this.token;
    copy.scheme = this.scheme;
    copy.proof = undefined;
    copy.certificateHeaders = this.certificateHeaders;
    copy.pendingProof = this.pendingProof;
    copy.pendingLineage = this.pendingLineage;
    copy.pendingIntrospection = this.pendingIntrospection;
    copy.headers = this.headers;
    return copy;
  }
}

/**
 * The request pipeline, apart from any server: the Fastify hook (auth-hook.ts) runs it in
 * onRequest, before any body is read, and an upgrade handler can run it on the `upgrade` event.
 * One straight line of steps, each a function named for it, each returning a value or throwing
 * one AuthFailure (no step writes to a reply, and none returns a boolean to forget):
 *
 *   1. source admission  client address; deny lists, address blocks   403 blocked_network | blocked_source
 *   2. route             longest prefix, unambiguous paths only        404 no_route
 *   3. staleness         revocation mirror fresh enough (fail-closed)  503 revocation_state_stale
 *   4. credentials       one `Authorization: Bearer` or `DPoP` token; for DPoP one proof header
 *                                                 401 missing_token | malformed_token | dpop_proof_missing,
 *                                                 400 ambiguous_credentials
 *   5. verification      header, issuer, algorithm, key, signature, claims (verify-token.ts)   401
 *   6. sender constraint the token's binding held (DPoP proof, client certificate); routes and
 *                        issuers that ask for binding refuse unbound tokens   401 token_not_bound | dpop_* | certificate_*
 *   7. provenance        audience, issuer accepted here, delegation; then the lineage of a
 *                        minted token (its record, every ancestor still standing)
 *                                                 401 lineage_unknown | parent_revoked, 503 lineage_unavailable
 *   8. revocations       token, session, subject, issuer; then what shared signals block   401
 *   9. protection        blocks, replay, rate limits, volume           401 token_blocked | subject_blocked, 429
 *  10. scopes            every scope the route requires                403 insufficient_scope
 *  11. introspection     routes with `introspection:` ask the issuer whether the token is live,
 *                        after everything else (confirmPending)   401 token_inactive, 503 introspection_unavailable
 *
 * Why in this order: a denied source costs nothing more than its address. Staleness comes before
 * any token work, since under fail-closed no request can be served (one without a token gets the
 * 503 too). Revocations come before protection, so a revoked token neither counts against a rate
 * limit nor feeds the anomaly rules. Scopes come last: they are the route's policy, not the
 * token's validity, so a live token seen where it may not read still counts for protection (a
 * stolen token tried across routes is still one token from many addresses).
 *
 * The sender-constraint step sits right after verification: a token is held to its binding
 * before anything else is decided about it, on every request (a cached token too).
 *
 * Returns the verified token; `into` then holds the route, the client address and the headers.
 * Throws AuthFailure (turn it into a reply with refuse()), or KeyRefetchPending when `mayRefetch`
 * and the token names an unknown kid of a remote key set: await its `settled`, then call again
 * with `mayRefetch` false (authorizeEventually does both). Synchronous otherwise, and without an
 * allocation of its own on the accepted path of a bearer token. A DPoP request with the Redis
 * store returns with `into.pendingProof` set: the proof's one shared replay check, which
 * confirmProof() makes; only DPoP requests pay for it, and only once everything else passed.
 */
export function authorize(
  runtime: PipelineRuntime,
  deps: PipelineDeps,
  raw: IncomingMessage,
  url: string,
  mayRefetch: boolean,
  into: Authorization,
): VerifiedToken {
  into.ip = undefined;
  into.route = undefined;
  into.token = undefined;
  into.scheme = undefined;
  into.proof = undefined;
  into.pendingProof = undefined;
  into.pendingLineage = undefined;
  into.pendingIntrospection = undefined;
  into.headers = undefined;
  const protection = runtime.protection;
  const ip = admitSource(protection, raw);
  into.ip = ip;
  const route = routeFor(runtime, url);
  into.route = route;
  checkStaleness(deps.revocations);
  const token = readCredentials(raw.rawHeaders, deps.maxTokenBytes, into);
  const verified = verifyToken(runtime, deps, token, mayRefetch);
  const bound = checkSenderConstraint(deps.senderConstraint, verified, route, raw, url, into);
  checkProvenance(verified, route);
  into.pendingLineage = checkLineage(deps.lineage, verified, route, deps.clock());
  checkRevocations(verified, deps.revocations.mirror, deps.clock());
  deps.signals?.check(verified, route.name, deps.clock());
  const admitted = admitToken(protection, verified, route, ip);
  checkScopes(verified, route);
  into.pendingIntrospection = introspectionFor(runtime, route, verified);
  into.headers = bound === undefined ? admitted : admitted === undefined ? bound : { ...admitted, ...bound };
  return verified;
}

/**
 * The shared replay check a DPoP request owes with the Redis store (`into.pendingProof`, set
 * by authorize()): one atomic Redis command. Rejects with AuthFailure. Hold `into` (held()) if
 * the caller's Authorization serves other requests meanwhile.
 */
export function confirmProof(deps: PipelineDeps, into: Authorization): Promise<void> {
  const pending = into.pendingProof;
  if (pending === undefined || deps.senderConstraint === undefined) return Promise.resolve();
  return deps.senderConstraint.confirm(pending);
}

/**
 * Everything authorize() left owed (`into.pendingLineage`, `into.pendingProof`): the lineage
 * lookup of a minted token the mirror did not know, then the DPoP proof's replay check, so that a
 * token refused for its lineage does not spend its proof. Rejects with AuthFailure.
 */
export async function confirmPending(deps: PipelineDeps, into: Authorization): Promise<void> {
  const lineage = into.pendingLineage;
  if (lineage !== undefined && deps.lineage !== undefined) await deps.lineage.confirm(lineage, deps.clock);
  await confirmProof(deps, into);
  // Last: the issuer is asked only about a token that passed every local check (RFC 7662).
  const introspection = into.pendingIntrospection;
  if (introspection !== undefined)
    await introspection.introspector.check(introspection.verified, into.token!);
}

/** Whether authorize() left anything owed (see confirmPending). */
export function hasPending(into: Authorization): boolean {
  return (
    into.pendingProof !== undefined ||
    into.pendingLineage !== undefined ||
    into.pendingIntrospection !== undefined
  );
}

/** An introspection step still owed: the route's introspector and the token it asks about. */
export interface PendingIntrospection {
  readonly introspector: Introspector;
  readonly verified: VerifiedToken;
}

/** Introspection: only routes that ask; allocates only there (the step does I/O anyway). */
function introspectionFor(
  runtime: PipelineRuntime,
  route: CompiledRoute,
  verified: VerifiedToken,
): PendingIntrospection | undefined {
  const introspector = runtime.introspection?.forRoute(route);
  return introspector === undefined ? undefined : { introspector, verified };
}

/**
 * authorize() for a caller that can wait (an upgrade handler): a token naming an unknown kid of a
 * remote key set waits for the issuer's one time-bounded refetch, then runs once more. The request
 * counts in `runtime.authenticating` meanwhile, as a hooked one does (see GatewayRuntime). Rejects
 * with AuthFailure for a refusal; anything else is a bug.
 */
export async function authorizeEventually(
  runtime: PipelineRuntime & Pick<GatewayRuntime, 'authenticating'>,
  deps: PipelineDeps,
  raw: IncomingMessage,
  url: string,
  into: Authorization,
): Promise<VerifiedToken> {
  runtime.authenticating += 1;
  try {
    let verified: VerifiedToken | undefined;
    try {
      verified = authorize(runtime, deps, raw, url, true, into);
    } catch (err) {
      if (!(err instanceof KeyRefetchPending)) throw err;
      await err.settled;
    }
    verified ??= authorize(runtime, deps, raw, url, false, into);
    await confirmPending(deps, into);
    return verified;
  } finally {
    runtime.authenticating -= 1;
  }
}

/**
 * The one place a refusal becomes an answer: writes its security event (severity raised by what
 * the request shows, see severityOf) and returns what the client is sent. `into` is what
 * authorize() had learnt when the step threw. Write the result with sendRefusal (Fastify) or
 * writeRawRefusal (a raw socket), both in src/proxy/refusal-reply.ts.
 */
export function refuse(
  failure: AuthFailure,
  into: Authorization,
  raw: IncomingMessage,
  url: string,
  events: SecurityEvents,
): Refusal {
  const { reason, detail } = failure;
  const route = into.route;
  const severity = severityOf(reason, {
    signatureValid: detail.signatureValid,
    alg: detail.alg,
    routeMintsTokens: route?.mintsTokens,
  });
  const q = url.indexOf('?');
  // Every field written, in one order: every event has the same shape (see RefusalEvent).
  events.refused({
    event: 'auth.refused',
    reason,
    severity,
    status: REASONS[reason].status,
    route: route?.name,
    method: raw.method ?? '',
    // A client may put its token in the path too: the event names the path without it.
    path: redactUrl(q === -1 ? url : url.slice(0, q)),
    ip: into.ip ?? socketAddress(raw),
    claimedIssuer: detail.claimedIssuer,
    issuerId: detail.issuerId,
    keyIssuer: detail.keyIssuer,
    kid: detail.kid,
    alg: detail.alg,
    sub: detail.sub,
    jti: detail.jti,
    tokenFingerprint: into.token === undefined ? undefined : tokenFingerprint(into.token),
    signatureValid: detail.signatureValid,
    binding: detail.binding,
    presented: detail.presented,
    htu: detail.htu,
    note: detail.note,
  });
  return refusalOf(reason, detail.retryAfterSeconds, detail.headers, into);
}

/** Source admission: first, before routing and any token work. */
function admitSource(protection: Protection | undefined, raw: IncomingMessage): string | undefined {
  return protection === undefined ? undefined : protection.admitSource(raw);
}

/** Route: the request's path, unless it is ambiguous. */
function routeFor(runtime: PipelineRuntime, url: string): CompiledRoute {
  const path = routablePath(url);
  const route = path === undefined ? undefined : runtime.matcher.match(path);
  if (route === undefined) throw new AuthFailure('no_route');
  return route;
}

/** Staleness: the revocation mirror may be too old to trust (`store.onUnavailable: fail-closed`). */
function checkStaleness(revocations: PipelineDeps['revocations']): void {
  if (revocations.isStale()) throw new AuthFailure('revocation_state_stale');
}

/**
 * Sender constraint. Without the checker nothing bound may pass: a token with a binding, a
 * DPoP request and a route or issuer asking for binding are all refused.
 */
function checkSenderConstraint(
  checker: SenderConstraint | undefined,
  verified: VerifiedToken,
  route: CompiledRoute,
  raw: IncomingMessage,
  url: string,
  into: Authorization,
): ResponseHeaders | undefined {
  if (checker !== undefined) return checker.check(verified, route, raw, url, into);
  if (
    verified.claims.cnf !== undefined ||
    into.scheme === 'dpop' ||
    route.senderConstraint !== 'none' ||
    verified.issuer.boundTokens === 'required'
  )
    throw new AuthFailure(
      'token_not_bound',
      tokenDetail(verified, 'sender constraints are not checked here'),
    );
  return undefined;
}

/**
 * Lineage, the last part of provenance: only on routes that accept a resource issuer with
 * `lineage: monitor | required`. Without the checker nothing that needs a record may pass.
 */
function checkLineage(
  checker: LineageCheck | undefined,
  verified: VerifiedToken,
  route: CompiledRoute,
  nowMs: number,
): PendingLineage | undefined {
  if (route.lineage.size === 0) return undefined;
  if (checker !== undefined) return checker.check(verified, route, nowMs);
  if (route.lineage.get(verified.issuer.id) === 'required')
    throw new AuthFailure('lineage_unavailable', tokenDetail(verified, 'lineage is not checked here'));
  return undefined;
}

/** Verification, timed for /metrics. */
function verifyToken(
  runtime: PipelineRuntime,
  deps: PipelineDeps,
  token: string,
  mayRefetch: boolean,
): VerifiedToken {
  const stats = deps.stats;
  const started = stats === undefined ? 0 : performance.now();
  const verified = runtime.verifier.verify(token, mayRefetch);
  stats?.verified(verified.key, started);
  return verified;
}

/** Protection: the address is source admission's, which resolved it whenever protection is on. */
function admitToken(
  protection: Protection | undefined,
  verified: VerifiedToken,
  route: CompiledRoute,
  ip: string | undefined,
): ResponseHeaders | undefined {
  if (protection === undefined || ip === undefined) return undefined;
  return protection.admitToken(verified, route, ip);
}
