import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { redactUrl } from '../observability/logger.js';
import { socketAddress } from '../protection/client-address.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { extractBearer } from '../verify/extract-bearer.js';
import { tokenFingerprint } from '../verify/fingerprint.js';
import { REASONS, severityOf } from '../verify/reasons.js';
import {
  type AdminActor,
  type AdminRole,
  displayNameOf,
  roleAllows,
  roleOf,
  STATIC_TOKEN_ACTOR,
} from './admin-actor.js';
import { type AdminEvents, bounded } from './admin-events.js';
import { sendAdminRefusal } from './admin-refusal.js';
import { type AdminSettings, adminSettings, sha256 } from './admin-settings.js';
import type { SessionIdentity } from './dashboard-session.js';
import { FailedAuthLimiter, type FailedAuthSpec } from './failed-auth-limiter.js';
import { type OperatorTokenDeps, verifyOperatorToken } from './operator-token.js';

export interface AdminGuardDeps extends OperatorTokenDeps {
  readonly events: AdminEvents;
}

/** `config: { adminRole }` on a route says what it needs; otherwise GET/HEAD read, the rest change. */
export interface AdminRouteConfig {
  readonly adminRole?: AdminRole;
}

/** Why a credential was refused, and what the event says about it. */
class AdminRefusal {
  constructor(
    readonly failure: AuthFailure,
    readonly token: string | undefined,
  ) {}
}

/**
 * Who may use the admin listener, decided once per request in onRequest:
 * - `Authorization: Bearer <operator token>`: verified by the gateway's own pipeline
 *   (operator-token.ts), its role from its claims (admin.operators.roles);
 * - the dashboard's session cookie with its CSRF header (dashboard-session.ts), re-checked against
 *   the revocations on every request;
 * - `Authorization: Bearer <admin.token>`: the static break-glass secret, compared in constant time
 *   (both sides hashed, so not even its length leaks), accepted without operators or with
 *   allowStaticToken, and an event every time it is used.
 * Then the role: a viewer changing state is 403 insufficient_role. Failed authentications count
 * per source address, and a burst blocks the address (failed-auth-limiter.ts).
 */
export class AdminGuard {
  private limiter: FailedAuthLimiter | undefined;

  constructor(private readonly deps: AdminGuardDeps) {}

  settings(): AdminSettings {
    return adminSettings(this.deps.runtime.current.compiled.config.admin);
  }

  /** The onRequest hook of every guarded scope. */
  readonly hook = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const settings = this.settings();
    if (!settings.enabled) {
      await reply.code(503).send({
        error: 'admin_disabled',
        message: 'set admin.operators or admin.token to use the admin API',
      });
      return;
    }
    if (this.refuseBlocked(request, reply, settings)) return;
    let actor: AdminActor;
    try {
      actor = await this.authenticate(request, settings);
    } catch (err) {
      if (!(err instanceof AdminRefusal)) throw err;
      this.refuseCredential(request, reply, settings, err);
      return;
    }
    const required = requiredRole(request);
    if (!roleAllows(actor.role, required)) {
      this.deps.events.emit(
        {
          event: 'admin.refused',
          reason: 'insufficient_role',
          severity: 'low',
          by: bounded(actor.by),
          issuer: actor.issuer,
          role: actor.role,
          required,
          ...this.where(request),
        },
        `admin: ${actor.role} ${actor.by} may not ${request.method} ${request.routeOptions.url ?? ''}`,
      );
      await sendAdminRefusal(reply, 'insufficient_role', { extra: { role: actor.role, required } });
      return;
    }
    request.adminActor = actor;
  };

  /** Seconds this request's address stays blocked after a burst of failures, or undefined. */
  blockedSeconds(request: FastifyRequest, settings = this.settings()): number | undefined {
    const now = this.deps.clock();
    const until = this.limiterFor(settings.admin.failedAuth).blocked(socketAddress(request.raw), now);
    return until === undefined ? undefined : (until - now) / 1000;
  }

  private refuseBlocked(request: FastifyRequest, reply: FastifyReply, settings: AdminSettings): boolean {
    const seconds = this.blockedSeconds(request, settings);
    if (seconds === undefined) return false;
    void sendAdminRefusal(reply, 'blocked_source', { retryAfterSeconds: seconds });
    return true;
  }

  /** A dashboard session's operator, or the refusal that ended the session (a revocation). */
  sessionCheck(identity: SessionIdentity): AdminActor | AuthFailure {
    try {
      return this.sessionActor(identity);
    } catch (err) {
      if (err instanceof AdminRefusal) return err.failure;
      throw err;
    }
  }

  signedIn(request: FastifyRequest, identity: SessionIdentity, via: 'oidc' | 'static-token'): void {
    this.deps.events.emit(
      {
        event: 'admin.signed_in',
        severity: 'low',
        by: bounded(identity.by),
        issuer: identity.issuer,
        role: identity.role,
        via,
        ip: socketAddress(request.raw),
      },
      `admin: ${identity.by} signed in to the dashboard as ${identity.role}`,
    );
  }

  /** A failed authentication from this request's address; a burst blocks the address. */
  countFailure(request: FastifyRequest): void {
    const ip = socketAddress(request.raw);
    const spec = this.settings().admin.failedAuth;
    const until = this.limiterFor(spec).failed(ip, this.deps.clock());
    if (until === undefined) return;
    this.deps.events.emit(
      {
        event: 'admin.source_blocked',
        reason: 'blocked_source',
        severity: 'high',
        ip,
        failures: spec.maxFailures + 1,
        windowSeconds: spec.windowSeconds,
        until: new Date(until).toISOString(),
      },
      `admin: ${ip} blocked after more than ${spec.maxFailures} failed authentications in ${spec.windowSeconds} s`,
    );
  }

  /** Whether `candidate` is the static admin token, while it is accepted; constant time. */
  staticTokenMatches(candidate: string, settings = this.settings()): boolean {
    return settings.staticDigest !== undefined && timingSafeEqual(sha256(candidate), settings.staticDigest);
  }

  /**
   * While operators exist the static token is break-glass and every use of it is a security event
   * (high). Without operators it is the only credential there is: each change made with it is an
   * event (low), but a tail or a scraper reading with it every second must not fill the event ring
   * with itself, so a read is a debug log line.
   */
  staticTokenUsed(request: FastifyRequest, settings = this.settings()): void {
    const where = this.where(request);
    if (!settings.breakGlass && (request.method === 'GET' || request.method === 'HEAD')) {
      request.log.debug({ event: 'admin.static_token_used', ...where }, 'static admin token used');
      return;
    }
    this.deps.events.emit(
      { event: 'admin.static_token_used', severity: settings.breakGlass ? 'high' : 'low', ...where },
      `admin: ${settings.breakGlass ? 'break-glass ' : ''}static token used for ${request.method} ${where.path}`,
    );
  }

  /** The role an operator's verified token (or ID token) grants, or the refusal. */
  roleOrRefuse(claims: Parameters<typeof roleOf>[0], settings: AdminSettings): AdminRole {
    const role = settings.operators === undefined ? undefined : roleOf(claims, settings.operators);
    if (role === undefined) {
      throw new AuthFailure('insufficient_role', {
        sub: claims.sub,
        note: 'the token grants neither the viewer nor the operator role',
      });
    }
    return role;
  }

  /** An admin event describing a refused credential (the token itself is never in it). */
  refusedEvent(request: FastifyRequest, failure: AuthFailure, token: string | undefined): void {
    const { reason, detail } = failure;
    this.deps.events.emit(
      {
        event: 'admin.refused',
        reason,
        severity: severityOf(reason, { signatureValid: detail.signatureValid, alg: detail.alg }),
        ...this.where(request),
        claimedIssuer: bounded(detail.claimedIssuer),
        issuerId: detail.issuerId,
        kid: bounded(detail.kid),
        sub: bounded(detail.sub),
        jti: bounded(detail.jti),
        tokenFingerprint: token === undefined ? undefined : tokenFingerprint(token),
        signatureValid: detail.signatureValid,
        note: detail.note,
      },
      `admin: refused ${reason}`,
    );
  }

  private async authenticate(request: FastifyRequest, settings: AdminSettings): Promise<AdminActor> {
    const now = this.deps.clock();
    if (request.headers.authorization === undefined) {
      const identity = settings.sessions?.authorizes(request, now);
      if (identity === undefined) throw new AdminRefusal(new AuthFailure('missing_token'), undefined);
      return this.sessionActor(identity);
    }
    let token: string;
    try {
      token = extractBearer(
        request.raw.rawHeaders,
        this.deps.runtime.current.compiled.config.verification.maxTokenBytes,
      );
    } catch (err) {
      if (err instanceof AuthFailure) throw new AdminRefusal(err, undefined);
      throw err;
    }
    if (this.staticTokenMatches(token, settings)) {
      this.staticTokenUsed(request, settings);
      return STATIC_TOKEN_ACTOR;
    }
    const operators = settings.operators;
    if (operators === undefined)
      throw new AdminRefusal(new AuthFailure('bad_signature', { note: 'not admin.token' }), token);
    try {
      const verified = await verifyOperatorToken(token, this.deps, {
        issuerId: operators.issuer,
        audiences: settings.operatorAudiences,
      });
      return {
        by: verified.claims.sub ?? '',
        issuer: verified.issuer.id,
        role: this.roleOrRefuse(verified.claims, settings),
        via: 'operator-token',
        name: displayNameOf(verified.claims),
      };
    } catch (err) {
      if (err instanceof AuthFailure) throw new AdminRefusal(err, token);
      throw err;
    }
  }

  /**
   * A session names the ID token it was signed in with: a revocation of that token, its key, its
   * subject or its issuer that reached this instance's mirror since ends the session here, as it
   * refuses the operator's bearer tokens. The same checks as check-revocations.ts, on the facts a
   * session keeps instead of a verified token.
   */
  private sessionActor(identity: SessionIdentity): AdminActor {
    const { issuer, iat = 0, jti, kid, by } = identity;
    if (issuer !== undefined) {
      const mirror = this.deps.revocations.mirror;
      const now = this.deps.clock();
      if (this.deps.revocations.isStale())
        throw new AdminRefusal(new AuthFailure('revocation_state_stale'), undefined);
      const detail = { issuerId: issuer, sub: by, jti, kid, note: 'dashboard session' };
      if (kid !== undefined && mirror.isKeyRevoked(issuer, kid))
        throw new AdminRefusal(new AuthFailure('key_revoked', detail), undefined);
      if (jti !== undefined && mirror.isTokenRevoked(issuer, jti, now))
        throw new AdminRefusal(new AuthFailure('token_revoked', detail), undefined);
      const subjectBefore = mirror.subjectRevokedBefore(issuer, by);
      if (subjectBefore !== undefined && iat < subjectBefore)
        throw new AdminRefusal(new AuthFailure('subject_revoked', detail), undefined);
      const issuerBefore = mirror.issuerRevokedBefore(issuer);
      if (issuerBefore !== undefined && iat < issuerBefore)
        throw new AdminRefusal(new AuthFailure('issuer_revoked', detail), undefined);
    }
    return { by, issuer, role: identity.role, via: 'dashboard-session', name: identity.name };
  }

  private refuseCredential(
    request: FastifyRequest,
    reply: FastifyReply,
    settings: AdminSettings,
    refusal: AdminRefusal,
  ): void {
    const { reason } = refusal.failure;
    // No credentials at all is not a guess; a credential that fails is.
    if (reason !== 'missing_token') this.refusedEvent(request, refusal.failure, refusal.token);
    if (reason !== 'missing_token' && REASONS[reason].status === 401) this.countFailure(request);
    if (settings.operators === undefined && REASONS[reason].status === 401) {
      // Only the static token exists: nothing more to say than that it was not presented.
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="provgate-admin"')
        .send({ error: 'unauthorized' });
      return;
    }
    void sendAdminRefusal(reply, reason);
  }

  private limiterFor(spec: FailedAuthSpec): FailedAuthLimiter {
    const current = this.limiter?.spec;
    if (
      current === undefined ||
      current.maxFailures !== spec.maxFailures ||
      current.windowSeconds !== spec.windowSeconds ||
      current.blockSeconds !== spec.blockSeconds
    ) {
      this.limiter = new FailedAuthLimiter(spec);
    }
    return this.limiter!;
  }

  private where(request: FastifyRequest): { ip: string; method: string; path: string } {
    const q = request.url.indexOf('?');
    return {
      ip: socketAddress(request.raw),
      method: request.method,
      path: bounded(redactUrl(q === -1 ? request.url : request.url.slice(0, q)))!,
    };
  }
}

function requiredRole(request: FastifyRequest): AdminRole {
  const config = request.routeOptions.config as AdminRouteConfig | undefined;
  if (config?.adminRole !== undefined) return config.adminRole;
  return request.method === 'GET' || request.method === 'HEAD' ? 'viewer' : 'operator';
}
