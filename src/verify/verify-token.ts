import { LRUCache } from 'lru-cache';
import type { CacheAdmissionPolicy } from '../config/schema.js';
import type { CompiledIssuer, IssuerRegistry } from '../keys/issuer-registry.js';
import type { KeyEntry } from '../keys/key-entry.js';
import type { KeyRefetcher } from '../keys/key-refetch.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';
import { AuthFailure, type FailureDetail } from './auth-failure.js';
import { CacheAdmission } from './cache-admission.js';
import { checkClaims } from './check-claims.js';
import { checkAlgAndType, checkForbiddenHeader } from './check-header.js';
import { checkTenant } from './check-tenant.js';
import { tokenFingerprint } from './fingerprint.js';
import { ForgeryCheckBudget } from './forgery-budget.js';
import { grantedScopes } from './granted-scopes.js';
import { type Claims, type ParsedToken, parseToken } from './parse-token.js';
import { assertKeyUsable, type KeyStepDeps, selectKey } from './select-key.js';
import { tokenKey } from './token-key.js';
import { verifySignature } from './verify-signature.js';

/** A token whose signature, issuer binding and issuer-level claims have been verified. */
export interface VerifiedToken {
  readonly issuer: CompiledIssuer;
  readonly key: KeyEntry;
  readonly alg: string;
  readonly claims: Claims;
  readonly scopes: ReadonlySet<string>;
  /** First 16 hex of SHA-256 of the token: how logs and counters name it. */
  readonly fingerprint: string;
}

class Verified implements VerifiedToken {
  private fingerprintMemo: string | undefined;

  constructor(
    /** The token itself: the caches compare it in full before taking an entry (token-key.ts). */
    readonly token: string,
    readonly issuer: CompiledIssuer,
    readonly key: KeyEntry,
    readonly alg: string,
    readonly claims: Claims,
    readonly scopes: ReadonlySet<string>,
  ) {}

  // Computed on first use: only refusals, protection rules and logs need it, not every token.
  get fingerprint(): string {
    this.fingerprintMemo ??= tokenFingerprint(this.token);
    return this.fingerprintMemo;
  }
}

/** A refusal that will not change while the key that decided it stays in its set. */
interface SettledRefusal {
  /** The token it is for: compared in full before the entry is taken (token-key.ts). */
  readonly token: string;
  readonly failure: AuthFailure;
  readonly issuer: CompiledIssuer;
  readonly key: KeyEntry;
}

// Decided after an expensive signature check and the same on every later look, as long as the
// key set holds the same key: an expired token stays expired. token_not_yet_valid is absent on
// purpose (it heals), and so is everything decided by key state, which can change any moment.
const SETTLED_REASONS: ReadonlySet<string> = new Set([
  'bad_signature',
  'token_expired',
  'token_lifetime_exceeded',
  'claim_missing',
  'tenant_not_allowed',
  'tenant_mismatch',
]);
// Bounded apart from the verified-token cache, so that a flood of bad tokens can never push
// good ones out of it; large enough that a replayed pool of junk cycles inside it (an LRU that is
// a little too small for a cyclic pool misses on every access).
const REFUSAL_CACHE_ENTRIES = 20_000;

export interface VerifierOptions {
  readonly registry: IssuerRegistry;
  readonly revocations: RevocationMirror;
  readonly clock: () => number;
  readonly cache: {
    readonly enabled: boolean;
    readonly maxEntries: number;
    readonly maxBytes: number;
    /** Default second-sighting (see cache-admission.ts). */
    readonly admission?: CacheAdmissionPolicy | undefined;
  };
  readonly forgeryChecksPerSecond: number;
  /** Remote key sets: lets an unknown kid wait for the issuer's refetch (see KeyRefetchPending). */
  readonly keyRefetch?: KeyRefetcher;
  /** Key trust decisions (src/trust/); undefined: every key of a set is trusted, as before. */
  readonly trust?: TrustIndex | undefined;
}

// Per-entry bookkeeping beyond the token string itself (claims object, Set, fields).
const ENTRY_OVERHEAD_BYTES = 600;

/**
 * The verification step of the pipeline (src/http/request-pipeline.ts), independent of the route:
 * forbidden header members, issuer by `iss`, algorithm and type, key in that issuer's set only,
 * signature, then claims and tenant. A bounded cache keyed by the token skips the signature for a
 * token seen before, and never skips what can change after it was verified: key state, the
 * clock, and the steps after this one (provenance, revocations), which run on every request.
 */
export class TokenVerifier {
  /** Keyed by tokenKey(token), the entry holding its token: see token-key.ts. */
  private readonly cache: LRUCache<number, Verified> | undefined;
  /** Repeated bad tokens must not cost a signature check each: refusals no dearer than acceptances. */
  private readonly refusals: LRUCache<number, SettledRefusal> | undefined;
  /** Which tokens enter each cache: a token seen once must not push out ones seen again. */
  private readonly admission: CacheAdmission;
  private readonly refusalAdmission: CacheAdmission;
  private readonly keyDeps: KeyStepDeps;
  private cacheHits = 0;
  private cacheMisses = 0;
  private refusalHits = 0;

  constructor(private readonly options: VerifierOptions) {
    this.keyDeps = {
      registry: options.registry,
      revocations: options.revocations,
      budget: new ForgeryCheckBudget(options.forgeryChecksPerSecond),
      keyRefetch: options.keyRefetch,
      trust: options.trust,
    };
    this.cache = options.cache.enabled
      ? new LRUCache<number, Verified>({
          max: options.cache.maxEntries,
          maxSize: options.cache.maxBytes,
          sizeCalculation: (value) => value.token.length * 2 + ENTRY_OVERHEAD_BYTES,
        })
      : undefined;
    this.refusals = options.cache.enabled
      ? new LRUCache<number, SettledRefusal>({
          max: REFUSAL_CACHE_ENTRIES,
          maxSize: Math.max(1024, Math.floor(options.cache.maxBytes / 2)),
          sizeCalculation: (value) => value.token.length * 2 + ENTRY_OVERHEAD_BYTES,
        })
      : undefined;
    const policy = options.cache.admission ?? 'second-sighting';
    this.admission = new CacheAdmission(policy, this.cache === undefined ? 0 : options.cache.maxEntries);
    this.refusalAdmission = new CacheAdmission(
      policy,
      this.refusals === undefined ? 0 : REFUSAL_CACHE_ENTRIES,
    );
  }

  get stats(): {
    hits: number;
    misses: number;
    size: number;
    bytes: number;
    refusalHits: number;
    firstSightings: number;
  } {
    return {
      hits: this.cacheHits,
      misses: this.cacheMisses,
      refusalHits: this.refusalHits,
      firstSightings: this.admission.firstSightings,
      size: this.cache?.size ?? 0,
      bytes: this.cache?.calculatedSize ?? 0,
    };
  }

  clearCache(): void {
    this.cache?.clear();
    this.refusals?.clear();
    this.admission.clear();
    this.refusalAdmission.clear();
  }

  /**
   * Synchronous, except that with `mayRefetch` an unknown kid of a remote set throws
   * KeyRefetchPending: await its `settled`, then call again with `mayRefetch` false.
   */
  verify(token: string, mayRefetch = true): VerifiedToken {
    const now = this.options.clock();
    const key = this.cache === undefined ? 0 : tokenKey(token);
    const cached = this.cache?.get(key);
    // Another token under the same key is no entry for this one (and is left in place).
    if (cached !== undefined && cached.token === token) {
      // A key set replaced since (rotation, reload) sends the token down the full path again.
      if (cached.issuer.keys.byKid.get(cached.key.kid) === cached.key) {
        this.cacheHits += 1;
        try {
          assertKeyUsable(null, cached.key, cached.issuer, this.keyDeps, now);
          checkClaims(cached.claims, cached.issuer, now);
        } catch (err) {
          throw nameTheToken(err, cached.key.kid, cached.alg, cached.claims);
        }
        return cached;
      }
      this.cache?.delete(key);
    }
    this.cacheMisses += 1;
    const settled = this.refusals?.get(key);
    if (
      settled !== undefined &&
      settled.token === token &&
      settled.issuer.keys.byKid.get(settled.key.kid) === settled.key
    ) {
      // Still refused for the same reason; token_expired stays expired, whatever the clock says now.
      this.refusalHits += 1;
      throw settled.failure;
    }
    const verified = this.verifyFully(token, key, now, mayRefetch);
    if (this.cache !== undefined && this.admission.admit(key)) this.cache.set(key, verified);
    return verified;
  }

  private verifyFully(token: string, key: number, now: number, mayRefetch: boolean): Verified {
    const parsed = parseToken(token);
    try {
      return this.verifyParsed(token, key, parsed, now, mayRefetch);
    } catch (err) {
      throw nameTheToken(err, parsed.header.kid, parsed.header.alg, parsed.claims);
    }
  }

  private verifyParsed(
    token: string,
    cacheKey: number,
    parsed: ParsedToken,
    now: number,
    mayRefetch: boolean,
  ): Verified {
    const { header, claims } = parsed;
    checkForbiddenHeader(header);
    const issuer = claims.iss === undefined ? undefined : this.options.registry.issuerFor(claims.iss);
    if (issuer === undefined) {
      throw new AuthFailure('unknown_issuer', {
        claimedIssuer: claims.iss,
        alg: header.alg,
        kid: header.kid,
        sub: claims.sub,
      });
    }
    checkAlgAndType(header, issuer);
    const key = selectKey(parsed, issuer, this.keyDeps, now, mayRefetch);
    try {
      if (!verifySignature(header.alg, key, parsed.signingInput, parsed.signature)) {
        throw new AuthFailure('bad_signature', {
          claimedIssuer: issuer.iss,
          issuerId: issuer.id,
          alg: header.alg,
          kid: key.kid,
          sub: claims.sub,
        });
      }
      checkClaims(claims, issuer, now);
      checkTenant(claims, issuer);
    } catch (err) {
      if (err instanceof AuthFailure && SETTLED_REASONS.has(err.reason)) {
        // Named before it is cached: every later request with this token gets this very object.
        const failure = nameTheToken(err, header.kid, header.alg, claims);
        if (this.refusals !== undefined && this.refusalAdmission.admit(cacheKey))
          this.refusals.set(cacheKey, { token, failure, issuer, key });
        throw failure;
      }
      throw err;
    }
    return new Verified(token, issuer, key, header.alg, claims, grantedScopes(claims));
  }
}

/**
 * Whichever step of verification refused it, the security event names the token by what it
 * claims: the steps before a key is chosen know only part of it. Returns the failure itself when
 * it is named already (a settled refusal is), else a copy with the gaps filled: a detail is
 * readonly. Steps after verification name the token themselves (token-detail.ts).
 */
function nameTheToken<E>(err: E, kid: string | undefined, alg: string, claims: Claims): E | AuthFailure {
  if (!(err instanceof AuthFailure)) return err;
  const d = err.detail;
  const named: FailureDetail = {
    ...d,
    claimedIssuer: d.claimedIssuer ?? claims.iss,
    kid: d.kid ?? kid,
    alg: d.alg ?? alg,
    sub: d.sub ?? claims.sub,
    jti: d.jti ?? claims.jti,
  };
  const unchanged =
    named.claimedIssuer === d.claimedIssuer &&
    named.kid === d.kid &&
    named.alg === d.alg &&
    named.sub === d.sub &&
    named.jti === d.jti;
  return unchanged ? err : new AuthFailure(err.reason, named);
}
