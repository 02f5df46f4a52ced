import type { SecurityEvents, TunnelEvent } from '../observability/security-events.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { AuthFailure } from '../verify/auth-failure.js';
import { checkRevocations } from '../verify/check-revocations.js';
import { REASONS, type Reason } from '../verify/reasons.js';
import type { VerifiedToken } from '../verify/verify-token.js';

export interface TunnelRegistryDeps {
  /** Revocations in force on this instance; changes reach it from every instance. */
  readonly mirror: RevocationMirror;
  readonly events: SecurityEvents;
  readonly clock: () => number;
}

/** What opened a tunnel: the credential it lives by, and where it came from (for the event). */
export interface TunnelCredential {
  readonly verified: VerifiedToken;
  readonly route: string;
  readonly ip: string;
}

interface OpenTunnel extends TunnelCredential {
  readonly openedAt: number;
  /** When the verifier would stop accepting the token: exp plus the issuer's clock skew, in ms. */
  readonly expiresAt: number;
  readonly close: () => void;
  timer: NodeJS.Timeout | undefined;
}

// setTimeout's longest delay; a later expiry is re-armed when it fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The open tunnels of this instance (upgraded connections, WebSockets), each closed the moment
 * its credential dies: at the token's expiry (as the verifier sees it: exp plus clock skew), or
 * at the first revocation of its key, token, session, subject or issuer that reaches this
 * instance's mirror, wherever it was made. A request is checked once; a tunnel lives for hours,
 * so it is checked again on every change. Each closure writes a `tunnel.closed` security event.
 */
export class TunnelRegistry {
  private readonly open = new Set<OpenTunnel>();
  private recheckQueued = false;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: TunnelRegistryDeps) {
    this.unsubscribe = deps.mirror.onChange(() => this.queueRecheck());
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Registers an open tunnel; `close` must end both of its sockets. Returns what to call when the
   * tunnel ends by itself. A credential already dead is closed at once.
   */
  add(credential: TunnelCredential, close: () => void): () => void {
    // Authorised while the gateway was stopping: it would hold the listener's close open.
    if (this.stopped) {
      close();
      return () => {};
    }
    const { exp } = credential.verified.claims;
    const tunnel: OpenTunnel = {
      ...credential,
      openedAt: this.deps.clock(),
      expiresAt:
        exp === undefined
          ? Number.POSITIVE_INFINITY
          : (exp + credential.verified.issuer.clockSkewSeconds) * 1000,
      close,
      timer: undefined,
    };
    this.open.add(tunnel);
    const dead = this.deadReason(tunnel);
    if (dead !== undefined) this.end(tunnel, dead);
    else this.arm(tunnel);
    return () => this.forget(tunnel);
  }

  /** Closes every tunnel without an event (the gateway is stopping), and stops listening. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const tunnel of [...this.open]) {
      this.forget(tunnel);
      tunnel.close();
    }
  }

  private arm(tunnel: OpenTunnel): void {
    if (tunnel.expiresAt === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, Math.min(MAX_DELAY_MS, tunnel.expiresAt - this.deps.clock()));
    tunnel.timer = setTimeout(expiryDue, delay, this, tunnel);
  }

  /** Called by the expiry timer. */
  expiryDue(tunnel: OpenTunnel): void {
    if (!this.open.has(tunnel)) return;
    if (this.deps.clock() >= tunnel.expiresAt) this.end(tunnel, 'token_expired');
    else this.arm(tunnel);
  }

  // One pass per burst of changes (a resync applies many at once), after the mirror has them all.
  private queueRecheck(): void {
    if (this.recheckQueued || this.open.size === 0) return;
    this.recheckQueued = true;
    queueMicrotask(() => {
      this.recheckQueued = false;
      for (const tunnel of [...this.open]) {
        const dead = this.deadReason(tunnel);
        if (dead !== undefined) this.end(tunnel, dead);
      }
    });
  }

  /** The reason a request with this token would be refused now, among what can change over a tunnel's life. */
  private deadReason(tunnel: OpenTunnel): Reason | undefined {
    const { verified } = tunnel;
    const now = this.deps.clock();
    if (now >= tunnel.expiresAt) return 'token_expired';
    if (this.deps.mirror.isKeyRevoked(verified.issuer.id, verified.key.kid)) return 'key_revoked';
    try {
      checkRevocations(verified, this.deps.mirror, now);
    } catch (err) {
      if (err instanceof AuthFailure) return err.reason;
      throw err;
    }
    return undefined;
  }

  private end(tunnel: OpenTunnel, reason: Reason): void {
    this.forget(tunnel);
    tunnel.close();
    const { verified } = tunnel;
    const closed: TunnelEvent = {
      event: 'tunnel.closed',
      reason,
      severity: REASONS[reason].severity,
      route: tunnel.route,
      ip: tunnel.ip,
      issuerId: verified.issuer.id,
      kid: verified.key.kid,
      sub: verified.claims.sub,
      jti: verified.claims.jti,
      tokenFingerprint: verified.fingerprint,
      openSeconds: Math.round((this.deps.clock() - tunnel.openedAt) / 1000),
    };
    this.deps.events.notice(closed, `tunnel closed: ${reason}`);
  }

  private forget(tunnel: OpenTunnel): void {
    if (!this.open.delete(tunnel)) return;
    if (tunnel.timer !== undefined) clearTimeout(tunnel.timer);
  }
}

function expiryDue(registry: TunnelRegistry, tunnel: OpenTunnel): void {
  registry.expiryDue(tunnel);
}
