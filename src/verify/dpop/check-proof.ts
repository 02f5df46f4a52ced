import { createHash } from 'node:crypto';
import type { CompiledRoute } from '../../config/compile-routes.js';
import { AuthFailure, type FailureDetail, type ResponseHeaders } from '../auth-failure.js';
import type { ForgeryCheckBudget } from '../forgery-budget.js';
import { type ParsedToken, parseToken } from '../parse-token.js';
import type { Reason } from '../reasons.js';
import { verifySignature } from '../verify-signature.js';
import type { DpopNonces } from './dpop-nonce.js';
import { normalizeHtu, requestHtu } from './normalize-htu.js';
import { jwkFitsAlg, type ProofJwk, type ProofKeys, proofJwkOf } from './proof-key.js';
import { type ProofReplayStore, proofId } from './proof-replay.js';

// A proof is a small JWS: an RSA-8192 `jwk` and a long `htu` fit well within this.
const MAX_PROOF_LENGTH = 8192;
// RFC 9449 §11.1: "reject DPoP proof JWTs with unnecessarily large jti values".
const MAX_JTI_LENGTH = 256;
const TYP = /^(application\/)?dpop\+jwt$/i;

/** How DPoP proofs are checked, compiled once from the `dpop:` section and the listener. */
export interface DpopSettings {
  /** The normalised public origin `htu` is built from; undefined until the listener is bound. */
  readonly origin: () => string | undefined;
  readonly maxAgeMs: number;
  readonly maxFutureMs: number;
  /** With `dpop.nonce: required`. */
  readonly nonces: DpopNonces | undefined;
  readonly replay: ProofReplayStore;
  readonly keys: ProofKeys;
  /** Signature checks spent on proofs by another key than the token's, to tell a stolen token from junk. */
  readonly mismatchBudget: ForgeryCheckBudget;
}

/** What the request offers the proof to be checked against. */
export interface ProofRequest {
  readonly method: string;
  readonly url: string;
  readonly token: string;
  readonly route: CompiledRoute;
}

/** A proof that passed every check of RFC 9449 §4.3 and §7.1. */
export interface AcceptedProof {
  readonly thumbprint: string;
  readonly htu: string;
  /** For the shared replay check (Redis): the proof's id and how long it must be remembered. */
  readonly id: string;
  readonly ttlMs: number;
  /** `DPoP-Nonce` for the response, when the proof's nonce is of the slot that just ended. */
  readonly headers: ResponseHeaders | undefined;
}

/**
 * The twelve checks of RFC 9449 §4.3 for the proof of a request whose verified token is bound
 * to `jkt`, cheapest first: header, claims, `htm`, `htu`, `iat`, `ath` and the nonce cost
 * microseconds; the key is compared with the token's binding before it is imported or used, so
 * a proof by a fresh key never costs a key import or a signature check (but a few, within a
 * budget, to tell a stolen token tried with the thief's own key from junk); the signature comes
 * next, and the proof's `jti` is remembered last, once everything else passed (sourcebot #1395).
 * Throws AuthFailure; `detail` names the token in the event.
 */
export function checkProof(
  proof: string,
  request: ProofRequest,
  jkt: string,
  settings: DpopSettings,
  nowMs: number,
  detail: FailureDetail,
): AcceptedProof {
  let presented: string | undefined;
  let htu: string | undefined;
  const fail = (reason: Reason, note: string, more?: FailureDetail): AuthFailure =>
    new AuthFailure(reason, { ...detail, presented, htu, note, ...more });

  if (proof.length > MAX_PROOF_LENGTH) throw fail('dpop_proof_invalid', 'proof too large');
  let parsed: ParsedToken;
  try {
    parsed = parseToken(proof.trim());
  } catch (err) {
    throw fail('dpop_proof_invalid', `proof: ${(err as AuthFailure).detail?.note ?? 'not a compact JWS'}`);
  }
  const { header, claims } = parsed;
  if (typeof header.typ !== 'string' || !TYP.test(header.typ))
    throw fail('dpop_proof_invalid', 'typ is not dpop+jwt');
  if (header.crit !== undefined) throw fail('dpop_proof_invalid', 'crit in the proof header');
  if (!request.route.dpopAlgorithms.has(header.alg))
    throw fail('dpop_proof_invalid', `alg ${header.alg} is not accepted on this route`);
  const jwk = proofJwkOf(header.jwk);
  if (typeof jwk === 'string') throw fail('dpop_proof_invalid', jwk);
  presented = `jkt:${jwk.thumbprint}`;
  if (!jwkFitsAlg(jwk, header.alg)) throw fail('dpop_proof_invalid', `jwk does not fit alg ${header.alg}`);

  const { jti, htm, iat } = claims;
  // Normalised first, so that every later refusal names the htu the proof was made for.
  if (typeof claims.htu !== 'string') throw fail('dpop_proof_invalid', 'htu missing');
  htu = normalizeHtu(claims.htu);
  if (htu === undefined) throw fail('dpop_proof_invalid', 'htu is not an http(s) URI');
  if (typeof jti !== 'string' || jti.length > MAX_JTI_LENGTH)
    throw fail('dpop_proof_invalid', 'jti missing or too long');
  if (typeof htm !== 'string' || htm !== request.method)
    throw fail('dpop_proof_invalid', 'htm is not the request method');
  const origin = settings.origin();
  const expected = origin === undefined ? undefined : requestHtu(origin, request.url);
  if (expected !== htu)
    throw fail('dpop_proof_invalid', `htu is not the request URI ${expected ?? '(no public origin)'}`);
  if (typeof iat !== 'number') throw fail('dpop_proof_invalid', 'iat missing');
  const iatMs = iat * 1000;
  if (nowMs - iatMs > settings.maxAgeMs)
    throw fail(
      'dpop_proof_invalid',
      `iat ${iat} older than dpop.maxAgeSeconds (now ${Math.floor(nowMs / 1000)})`,
    );
  if (iatMs - nowMs > settings.maxFutureMs)
    throw fail(
      'dpop_proof_invalid',
      `iat ${iat} beyond dpop.maxFutureSeconds (now ${Math.floor(nowMs / 1000)})`,
    );
  if (claims.ath !== accessTokenHash(request.token))
    throw fail('dpop_proof_invalid', 'ath is not the hash of this access token');

  let headers: ResponseHeaders | undefined;
  const nonces = settings.nonces;
  if (nonces !== undefined) {
    const state = typeof claims.nonce === 'string' ? nonces.check(claims.nonce, nowMs) : 'invalid';
    if (state === 'invalid') {
      const why = claims.nonce === undefined ? 'proof without a nonce' : 'nonce unknown or expired';
      throw fail('dpop_nonce_required', why, { headers: nonces.headers(nowMs) });
    }
    if (state === 'turning') headers = nonces.headers(nowMs);
  }

  if (jwk.thumbprint !== jkt) {
    const valid = settings.mismatchBudget.take(nowMs) ? signatureValid(parsed, jwk, settings) : 'unchecked';
    if (valid === false)
      throw fail('dpop_proof_invalid', 'signature does not verify (and the key is not the token’s)');
    throw fail(
      'dpop_key_mismatch',
      valid === true
        ? 'a valid proof by another key than the one the token is bound to'
        : 'proof key is not the one the token is bound to (signature unchecked: budget spent)',
      { signatureValid: valid },
    );
  }
  if (signatureValid(parsed, jwk, settings) !== true)
    throw fail('dpop_proof_invalid', 'signature does not verify');

  const id = proofId(jwk.thumbprint, jti);
  // Remembered while any instance could still accept it: until iat + maxAge on a clock up to
  // maxFuture behind this one (keycloak #43505: a TTL without the skew left a replay window).
  const expiresAtMs = iatMs + settings.maxAgeMs + settings.maxFutureMs;
  const claimed = settings.replay.claim(id, expiresAtMs, nowMs);
  if (claimed === 'replayed') throw fail('dpop_proof_replayed', 'proof jti seen before');
  if (claimed === 'full' && settings.replay.kind === 'memory')
    throw fail('dpop_replay_unavailable', 'dpop.replayCacheEntries proof ids remembered already');
  return { thumbprint: jwk.thumbprint, htu, id, ttlMs: Math.max(1000, expiresAtMs - nowMs), headers };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the ASCII access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url');
}

function signatureValid(parsed: ParsedToken, jwk: ProofJwk, settings: DpopSettings): boolean {
  const key = settings.keys.entryOf(jwk);
  if (key === undefined) return false;
  return verifySignature(parsed.header.alg, key, parsed.signingInput, parsed.signature);
}
