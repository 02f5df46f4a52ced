import type { IncomingMessage } from 'node:http';
import type { CompiledRoute } from '../config/compile-routes.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { AuthFailure, type FailureDetail, type ResponseHeaders } from './auth-failure.js';
import {
  type CertificateHeader,
  forwardedCertificate,
  type PresentedCertificate,
  tlsCertificate,
} from './client-certificate.js';
import { checkProof, type DpopSettings } from './dpop/check-proof.js';
import { CLIENT_CERT, type Credentials, FORWARDED_CLIENT_CERT } from './extract-bearer.js';
import type { Reason } from './reasons.js';
import { bindingOf, describeBinding, type TokenBinding } from './token-binding.js';
import { tokenDetail } from './token-detail.js';
import type { VerifiedToken } from './verify-token.js';

/** Where client certificates come from on this listener (`listen.tls`, `listen.clientCertHeader`). */
export interface CertificateSettings {
  /** The listener asks for certificates in its own TLS handshake. */
  readonly fromTls: boolean;
  /** With `listen.tls.clientCa`: only a certificate that chains to it counts. */
  readonly requireAuthorized: boolean;
  /** The header a trusted TLS-terminating proxy puts the certificate in, or none. */
  readonly header: CertificateHeader | 'none';
  /** Whether the socket peer is one of protection.trustedProxies. */
  readonly trustedPeer: (raw: IncomingMessage) => boolean;
  /** A certificate header from a peer that may not send one: an attack, reported as a critical event. */
  readonly onForgedHeader: (raw: IncomingMessage, url: string, route: CompiledRoute, headers: number) => void;
}

/** The shared replay check a DPoP request still owes once the synchronous steps passed (Redis store). */
export interface PendingProof {
  readonly id: string;
  readonly ttlMs: number;
  /** Names the token, its binding and the proof in the event, should the check refuse it. */
  readonly detail: FailureDetail;
}

/** What the step reads of the request's credentials and where it leaves the pending check. */
export interface SenderConstraintState extends Credentials {
  pendingProof: PendingProof | undefined;
}

/**
 * Proofs by outcome, for /metrics: plain counters, bumped on the request path. Acceptances are
 * counted by the step, refusals from the security events (whichever step refused).
 */
export class ProofOutcomes {
  accepted = 0;
  missing = 0;
  invalid = 0;
  replayed = 0;
  keyMismatch = 0;
  nonceRequired = 0;
  boundAsBearer = 0;
  unavailable = 0;

  /** Counts a refusal that is about a proof; other reasons are not. */
  refused(reason: Reason): void {
    switch (reason) {
      case 'dpop_proof_missing':
        this.missing += 1;
        break;
      case 'dpop_proof_invalid':
        this.invalid += 1;
        break;
      case 'dpop_proof_replayed':
        this.replayed += 1;
        break;
      case 'dpop_key_mismatch':
        this.keyMismatch += 1;
        break;
      case 'dpop_nonce_required':
        this.nonceRequired += 1;
        break;
      case 'dpop_bound_as_bearer':
        this.boundAsBearer += 1;
        break;
      case 'dpop_replay_unavailable':
        this.unavailable += 1;
        break;
    }
  }
}

export interface SenderConstraintOptions {
  readonly dpop: DpopSettings;
  readonly certificates: CertificateSettings;
  /** `store.onUnavailable`: whether a DPoP request is refused while the shared replay check cannot be made. */
  readonly failClosed: boolean;
  readonly clock: () => number;
}

/**
 * The sender-constraint step of the pipeline (src/http/request-pipeline.ts), after verification
 * and before provenance: a token bound to a key (`cnf.jkt`) or a certificate
 * (`cnf["x5t#S256"]`) is held to that binding on every route, and a route or issuer that asks
 * for binding refuses an unbound token. A plain bearer token on a route that asks for none costs
 * three property reads. Runs on every request, cached token or not: the verified-token cache
 * never skips a proof or a certificate.
 */
export class SenderConstraint {
  readonly outcomes = new ProofOutcomes();

  constructor(private readonly options: SenderConstraintOptions) {}

  get replayKind(): 'memory' | 'redis' {
    return this.options.dpop.replay.kind;
  }

  /**
   * Throws AuthFailure, or returns the headers for the response (a new DPoP nonce when the slot
   * turned). With the Redis store an accepted proof leaves `state.pendingProof`: confirm() it
   * before letting the request through.
   */
  check(
    token: VerifiedToken,
    route: CompiledRoute,
    raw: IncomingMessage,
    url: string,
    state: SenderConstraintState,
  ): ResponseHeaders | undefined {
    state.pendingProof = undefined;
    if (state.certificateHeaders !== 0)
      this.screenCertificateHeaders(raw, url, route, state.certificateHeaders);
    const cnf = token.claims.cnf;
    if (cnf === undefined) {
      if (state.scheme === 'dpop') throw notBound(token, 'DPoP credentials with a token bound to no key');
      if (route.senderConstraint !== 'none')
        throw notBound(token, `route requires ${route.senderConstraint}`);
      if (token.issuer.boundTokens === 'required') throw notBound(token, 'issuer requires bound tokens');
      return undefined;
    }
    const found = bindingOf(cnf);
    if (typeof found === 'string') throw new AuthFailure('token_not_bound', tokenDetail(token, found));
    const binding: TokenBinding = found;
    const detail = { ...tokenDetail(token), binding: describeBinding(binding) };
    if (route.senderConstraint === 'dpop' && binding.jkt === undefined)
      throw new AuthFailure('token_not_bound', {
        ...detail,
        note: 'route requires dpop; the token is bound to a certificate',
      });
    if (route.senderConstraint === 'mtls' && binding.x5t === undefined)
      throw new AuthFailure('token_not_bound', {
        ...detail,
        note: 'route requires mtls; the token is bound to a DPoP key',
      });
    if (binding.jkt === undefined && state.scheme === 'dpop')
      throw new AuthFailure('token_not_bound', {
        ...detail,
        note: 'DPoP credentials with a token bound to a certificate',
      });
    // The certificate first: it costs nothing after the first request of a connection, and a
    // request refused for it never reaches the shared replay check.
    if (binding.x5t !== undefined) this.checkCertificate(binding.x5t, raw, state, detail);
    if (binding.jkt === undefined) return undefined;
    if (state.scheme !== 'dpop')
      throw new AuthFailure('dpop_bound_as_bearer', {
        ...detail,
        note: 'a DPoP-bound token sent as a bearer token',
      });
    const accepted = checkProof(
      state.proof ?? '',
      { method: raw.method ?? '', url, token: state.token ?? '', route },
      binding.jkt,
      this.options.dpop,
      this.options.clock(),
      detail,
    );
    if (this.options.dpop.replay.claimShared === undefined) this.outcomes.accepted += 1;
    else {
      state.pendingProof = {
        id: accepted.id,
        ttlMs: accepted.ttlMs,
        detail: { ...detail, presented: `jkt:${accepted.thumbprint}`, htu: accepted.htu },
      };
    }
    return accepted.headers;
  }

  /**
   * The shared replay check of a proof check() accepted: one atomic Redis command. Rejects with
   * dpop_proof_replayed when another instance (or this one, earlier) took the proof already, and
   * with dpop_replay_unavailable when Redis cannot answer under `fail-closed`; under
   * `serve-stale` the proof stands on this instance's memory alone while Redis is away.
   */
  async confirm(pending: PendingProof): Promise<void> {
    const claimShared = this.options.dpop.replay.claimShared;
    if (claimShared === undefined) return;
    let first: boolean;
    try {
      first = await claimShared.call(this.options.dpop.replay, pending.id, pending.ttlMs);
    } catch (err) {
      const away = err instanceof StoreUnavailableError;
      if (!away || this.options.failClosed) {
        throw new AuthFailure('dpop_replay_unavailable', {
          ...pending.detail,
          note: away
            ? `replay store unavailable (fail-closed): ${(err as Error).message}`
            : 'replay check failed',
        });
      }
      this.outcomes.accepted += 1;
      return;
    }
    if (!first)
      throw new AuthFailure('dpop_proof_replayed', {
        ...pending.detail,
        note: 'proof jti seen on another instance',
      });
    this.outcomes.accepted += 1;
  }

  private checkCertificate(
    x5t: string,
    raw: IncomingMessage,
    state: SenderConstraintState,
    detail: FailureDetail,
  ): void {
    const presented = this.presentedCertificate(raw, state);
    if ('problem' in presented)
      throw new AuthFailure('certificate_required', { ...detail, note: presented.problem });
    if (presented.thumbprint !== x5t) {
      throw new AuthFailure('certificate_mismatch', {
        ...detail,
        presented: `x5t:${presented.thumbprint}`,
        note: 'the client certificate is not the one the token is bound to',
      });
    }
  }

  private presentedCertificate(raw: IncomingMessage, state: SenderConstraintState): PresentedCertificate {
    const certificates = this.options.certificates;
    const header = certificates.header;
    // A trusted proxy terminated TLS: its own connection's certificate is not the client's.
    if (header !== 'none' && certificates.trustedPeer(raw)) {
      if ((state.certificateHeaders & headerBit(header)) === 0)
        return { problem: `no ${header} header from the proxy` };
      return forwardedCertificate(raw.rawHeaders, header);
    }
    if (certificates.fromTls) return tlsCertificate(raw.socket, certificates.requireAuthorized);
    return { problem: 'this listener sees no client certificates' };
  }

  /** A certificate header believed only from a trusted proxy; from anyone else it is an attack. */
  private screenCertificateHeaders(
    raw: IncomingMessage,
    url: string,
    route: CompiledRoute,
    headers: number,
  ): void {
    if (this.options.certificates.header !== 'none' && this.options.certificates.trustedPeer(raw)) return;
    this.options.certificates.onForgedHeader(raw, url, route, headers);
  }
}

function headerBit(header: CertificateHeader): number {
  return header === 'client-cert' ? CLIENT_CERT : FORWARDED_CLIENT_CERT;
}

function notBound(token: VerifiedToken, note: string): AuthFailure {
  return new AuthFailure('token_not_bound', tokenDetail(token, note));
}
