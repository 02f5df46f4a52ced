import type { CompiledIssuer, IssuerRegistry } from '../keys/issuer-registry.js';
import { type KeyEntry, keyActiveAt, keySupportsAlg } from '../keys/key-entry.js';
import { type KeyRefetcher, KeyRefetchPending } from '../keys/key-refetch.js';
import { trustVerdict } from '../keys/key-trust.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { AuthFailure } from './auth-failure.js';
import type { ForgeryCheckBudget } from './forgery-budget.js';
import type { ParsedToken } from './parse-token.js';
import type { SignatureEvidence } from './reasons.js';
import { verifySignature } from './verify-signature.js';

export interface KeyStepDeps {
  readonly registry: IssuerRegistry;
  readonly revocations: RevocationMirror;
  readonly budget: ForgeryCheckBudget;
  /** Remote key sets: an unknown kid may be a key published since the last fetch. */
  readonly keyRefetch?: KeyRefetcher | undefined;
  /** Key trust decisions (quarantine, distrust); with each issuer's policy (`issuer.trust`, pin). */
  readonly trust?: TrustIndex | undefined;
}

/**
 * Verification, key: looked up in the set of the issuer the token names, and nowhere else.
 * A kid found only in another issuer's set is the Storm-0558 signature, not an unknown key.
 */
export function selectKey(
  token: ParsedToken,
  issuer: CompiledIssuer,
  deps: KeyStepDeps,
  nowMs: number,
  mayRefetch = false,
): KeyEntry {
  const { alg, kid } = token.header;
  const base = {
    claimedIssuer: issuer.iss,
    issuerId: issuer.id,
    alg,
    kid,
    sub: token.claims.sub,
    jti: token.claims.jti,
  };
  const key = kid === undefined ? onlyKeyFor(issuer, alg) : issuer.keys.byKid.get(kid);
  if (key === undefined) {
    // Only this path may turn asynchronous: the caller awaits the issuer's one refetch and
    // verifies once more, without refetch. A known kid never gets here. The refetch comes
    // before the cross-issuer check because kids are not unique across providers: a key this
    // issuer published since the last fetch may share its kid with another issuer's key.
    if (mayRefetch && (kid !== undefined || !issuer.keys.loaded)) {
      const settled = deps.keyRefetch?.refetchFor(issuer.id, nowMs);
      if (settled !== undefined) throw new KeyRefetchPending(settled);
    }
    const foreign = kid === undefined ? [] : deps.registry.foreignKeys(kid, issuer.id);
    if (foreign.length > 0) {
      const owner = foreign[0]!;
      throw new AuthFailure('key_issuer_mismatch', {
        ...base,
        keyIssuer: owner.issuerId,
        signatureValid: evidence(token, foreign, deps.budget, nowMs),
      });
    }
    if (!issuer.keys.loaded) {
      throw new AuthFailure('keys_unavailable', {
        ...base,
        note: `the key set of ${issuer.id} has never loaded`,
        retryAfterSeconds: deps.keyRefetch?.cooldownLeftSeconds(issuer.id, nowMs) ?? 1,
      });
    }
    throw new AuthFailure('unknown_key', base);
  }
  if (!keySupportsAlg(key, alg)) {
    throw new AuthFailure('alg_not_allowed', {
      ...base,
      note: `key ${key.kid} is ${key.kty} and cannot sign ${alg}`,
    });
  }
  assertKeyUsable(token, key, issuer, deps, nowMs);
  return key;
}

/** Key state, checked on every request including verified-token cache hits. */
export function assertKeyUsable(
  token: ParsedToken | null,
  key: KeyEntry,
  issuer: CompiledIssuer,
  deps: KeyStepDeps,
  nowMs: number,
): void {
  // A key gone from its published set is unknown once its grace is over, cached tokens included.
  if (key.removedAfter !== undefined && nowMs >= key.removedAfter) {
    throw new AuthFailure('unknown_key', {
      ...keyFacts(token, key),
      note: 'key removed from the published set',
    });
  }
  if (key.alsoClaimedBy !== undefined) {
    throw new AuthFailure('key_issuer_mismatch', {
      ...keyEvidence(token, key, deps, nowMs),
      keyIssuer: key.alsoClaimedBy,
      note: `key material also published by ${key.alsoClaimedBy}: refused for both issuers`,
    });
  }
  if (deps.revocations.isKeyRevoked(key.issuerId, key.kid))
    throw new AuthFailure('key_revoked', keyEvidence(token, key, deps, nowMs));
  // Nothing to look at for an issuer without a policy while no decision exists at all.
  const trust = deps.trust;
  if (trust !== undefined && (issuer.trust !== undefined || trust.size > 0)) {
    const verdict = trustVerdict(issuer.trust, trust, key, nowMs);
    if (verdict !== 'trusted') throw untrusted(verdict, token, key, deps, nowMs);
  }
  if (!keyActiveAt(key, nowMs))
    throw new AuthFailure('key_inactive', {
      ...keyEvidence(token, key, deps, nowMs),
      note: 'key outside its validity window',
    });
  const iat = token?.claims.iat;
  if (iat !== undefined && !keyActiveAt(key, iat * 1000)) {
    throw new AuthFailure('key_inactive', {
      ...keyEvidence(token, key, deps, nowMs),
      note: 'token issued outside the key validity window',
    });
  }
}

/** A key the gateway does not trust: never accepted, never `unknown_key`, a forgery check spent. */
function untrusted(
  verdict: 'quarantined' | 'distrusted' | 'not_pinned',
  token: ParsedToken | null,
  key: KeyEntry,
  deps: KeyStepDeps,
  nowMs: number,
): AuthFailure {
  const detail = keyEvidence(token, key, deps, nowMs);
  if (verdict === 'not_pinned') {
    return new AuthFailure('key_not_pinned', {
      ...detail,
      note: `key thumbprint ${key.thumbprint} is not in keys.pin`,
    });
  }
  return new AuthFailure('key_quarantined', {
    ...detail,
    note:
      verdict === 'distrusted'
        ? `key thumbprint ${key.thumbprint} distrusted by an operator`
        : `key thumbprint ${key.thumbprint} is new and not trusted yet`,
  });
}

function keyFacts(token: ParsedToken | null, key: KeyEntry) {
  return {
    issuerId: key.issuerId,
    kid: key.kid,
    alg: token?.header.alg,
    sub: token?.claims.sub,
    jti: token?.claims.jti,
  };
}

// Built only when refusing (the forgery check spends budget): a usable key allocates nothing.
function keyEvidence(token: ParsedToken | null, key: KeyEntry, deps: KeyStepDeps, nowMs: number) {
  return {
    ...keyFacts(token, key),
    // A token that reached the cache was verified under this very key.
    signatureValid: token === null ? true : evidence(token, [key], deps.budget, nowMs),
  };
}

function onlyKeyFor(issuer: CompiledIssuer, alg: string): KeyEntry | undefined {
  let found: KeyEntry | undefined;
  for (const key of issuer.keys.all) {
    if (!keySupportsAlg(key, alg)) continue;
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}

function evidence(
  token: ParsedToken,
  keys: readonly KeyEntry[],
  budget: ForgeryCheckBudget,
  nowMs: number,
): SignatureEvidence {
  for (const key of keys) {
    if (!keySupportsAlg(key, token.header.alg)) continue;
    if (!budget.take(nowMs)) return 'unchecked';
    if (verifySignature(token.header.alg, key, token.signingInput, token.signature)) return true;
  }
  return false;
}
