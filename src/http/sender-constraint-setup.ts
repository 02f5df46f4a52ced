import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { Config } from '../config/schema.js';
import { redactUrl } from '../observability/logger.js';
import type { SecurityEvents } from '../observability/security-events.js';
import { AddressMatcher } from '../protection/address-matcher.js';
import { socketAddress } from '../protection/client-address.js';
import type { CompiledProtection } from '../protection/compile-protection.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { SenderConstraint } from '../verify/check-sender-constraint.js';
import { createProofReplay } from '../verify/dpop/create-proof-replay.js';
import { DpopNonces } from '../verify/dpop/dpop-nonce.js';
import { normalizeHtu } from '../verify/dpop/normalize-htu.js';
import { ProofKeys } from '../verify/dpop/proof-key.js';
import type { ProofReplayStore } from '../verify/dpop/proof-replay.js';
import { CLIENT_CERT, CLIENT_CERT_CHAIN, FORWARDED_CLIENT_CERT } from '../verify/extract-bearer.js';
import { ForgeryCheckBudget } from '../verify/forgery-budget.js';

// Signature checks per second on proofs by another key than the token's (see check-proof.ts).
const MISMATCH_CHECKS_PER_SECOND = 50;

export interface SenderConstraintSetup {
  /** The configuration the listener was built with: `dpop`, `listen` and `store` need a restart. */
  readonly config: Config;
  /** The generation in force: its protection section says which peers are trusted proxies. */
  readonly runtime: RuntimeHolder;
  /** The Redis replay store (server.ts makes it on the process's RedisLink); memory when absent. */
  readonly replay: ProofReplayStore | undefined;
  readonly events: SecurityEvents;
  readonly logger: Logger;
  readonly clock: () => number;
  /** The listener's own origin once bound, when `listen.publicOrigin` is not set. */
  readonly boundOrigin: () => string | undefined;
}

/** The sender-constraint step as the proxy listener runs it. */
export function createSenderConstraint(setup: SenderConstraintSetup): SenderConstraint {
  const { config, clock } = setup;
  const dpop = config.dpop;
  const configured =
    config.listen.publicOrigin === undefined ? undefined : normalizeHtu(config.listen.publicOrigin);
  // normalizeHtu ends an origin with `/`; a request's path brings its own.
  const fixedOrigin = configured?.replace(/\/$/, '');
  const maxAgeMs = dpop.maxAgeSeconds * 1000;
  const maxFutureMs = dpop.maxFutureSeconds * 1000;
  const replay =
    setup.replay ??
    createProofReplay({ ...config, store: { ...config.store, kind: 'memory' } }, undefined, clock);
  const trusted = trustedProxies(setup.runtime);
  return new SenderConstraint({
    dpop: {
      origin: fixedOrigin === undefined ? setup.boundOrigin : () => fixedOrigin,
      maxAgeMs,
      maxFutureMs,
      nonces: dpop.nonce === 'required' ? new DpopNonces(dpop.nonceKeys, dpop.nonceSlotSeconds) : undefined,
      replay,
      keys: new ProofKeys(),
      mismatchBudget: new ForgeryCheckBudget(MISMATCH_CHECKS_PER_SECOND),
    },
    certificates: {
      fromTls: config.listen.tls?.requestCert === true,
      requireAuthorized: config.listen.tls?.clientCa !== undefined,
      header: config.listen.clientCertHeader,
      trustedPeer: trusted,
      onForgedHeader: forgedHeaderReporter(setup),
    },
    failClosed: config.store.onUnavailable === 'fail-closed',
    clock,
  });
}

/** protection.trustedProxies of the generation in force, one matcher per generation. */
function trustedProxies(runtime: RuntimeHolder): (raw: IncomingMessage) => boolean {
  const matchers = new WeakMap<CompiledProtection, AddressMatcher>();
  return (raw) => {
    const protection = runtime.current.compiled.protection;
    if (protection === undefined || protection.trustedProxies.length === 0) return false;
    let matcher = matchers.get(protection);
    if (matcher === undefined) {
      matcher = new AddressMatcher(protection.trustedProxies);
      matchers.set(protection, matcher);
    }
    return matcher.matches(socketAddress(raw));
  };
}

/**
 * RFC 9440 §4: a certificate header is believed only from the TLS-terminating proxy, which must
 * strip the client's. One from anyone else is somebody trying to be a certificate they do not
 * hold: ignored, stripped before the upstream, and a critical event (log, event ring, stream).
 */
function forgedHeaderReporter(
  setup: SenderConstraintSetup,
): (raw: IncomingMessage, url: string, route: CompiledRoute, headers: number) => void {
  return (raw, url, route, headers) => {
    const names: string[] = [];
    if ((headers & CLIENT_CERT) !== 0) names.push('client-cert');
    if ((headers & CLIENT_CERT_CHAIN) !== 0) names.push('client-cert-chain');
    if ((headers & FORWARDED_CLIENT_CERT) !== 0) names.push('x-forwarded-client-cert');
    const q = url.indexOf('?');
    const event = {
      event: 'anomaly' as const,
      rule: 'forged_certificate_header',
      severity: 'critical' as const,
      action: 'ignored',
      headers: names,
      ip: socketAddress(raw),
      route: route.name,
      method: raw.method ?? '',
      path: redactUrl(q === -1 ? url : url.slice(0, q)),
    };
    setup.events.notice(
      event,
      `FORGED CERTIFICATE HEADER: ${names.join(', ')} from ${event.ip}, which is not a trusted proxy; ignored`,
    );
  };
}
