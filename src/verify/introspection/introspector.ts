import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { IntrospectionConfig } from '../../config/schema.js';
import { AuthFailure } from '../auth-failure.js';
import type { Claims } from '../parse-token.js';
import { tokenDetail } from '../token-detail.js';
import type { VerifiedToken } from '../verify-token.js';
import type { IntrospectionEndpoint } from './introspection-endpoint.js';
import type { IntrospectionCounts } from './introspection-stats.js';
import { IntrospectionUnavailable } from './introspection-unavailable.js';
import type { IntrospectionAnswer } from './post-introspection.js';

/**
 * The introspection step of one route (RFC 7662): after every local check has passed, the
 * token's issuer is asked whether the token is still active. Never instead of the local checks,
 * and only for tokens of the configured issuer (another issuer the route accepts has no say
 * at this endpoint).
 * - `active: false`, or an introspected `sub`, `iss` or `jti` that differs from the token's (the
 *   endpoint speaks of another token), or an introspected `exp` already past: 401 token_inactive.
 * - No usable answer: 503 introspection_unavailable (`fail-closed`), or the local verdict
 *   (`serve-verified`); counted either way.
 * Answers are cached per token for `cacheSeconds`, never past the token's `exp`.
 */
export class Introspector {
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;

  constructor(
    readonly route: string,
    private readonly config: IntrospectionConfig,
    private readonly endpoint: IntrospectionEndpoint,
    private readonly counts: IntrospectionCounts,
    private readonly clock: () => number,
    private readonly logger?: Logger | undefined,
  ) {
    this.maxAgeMs = config.cacheSeconds * 1000;
    this.timeoutMs = config.timeoutSeconds * 1000;
  }

  /** Resolves when the request may pass; rejects with AuthFailure. */
  async check(verified: VerifiedToken, token: string): Promise<void> {
    if (verified.issuer.id !== this.config.issuer) return;
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.endpoint.cached(key, this.maxAgeMs);
    let answer: IntrospectionAnswer;
    if (cached !== undefined) {
      this.counts.cached += 1;
      answer = cached.answer;
    } else {
      const exp = verified.claims.exp;
      try {
        answer = (
          await this.endpoint.fetch(
            key,
            token,
            exp === undefined ? Number.POSITIVE_INFINITY : exp * 1000,
            this.timeoutMs,
            () => {
              this.counts.requested += 1;
            },
          )
        ).answer;
      } catch (err) {
        if (!(err instanceof IntrospectionUnavailable)) throw err;
        return this.unavailable(verified, err.message);
      }
    }
    const why = inactive(answer, verified.claims, this.clock() / 1000);
    if (why !== undefined) {
      this.counts.inactive += 1;
      throw new AuthFailure('token_inactive', tokenDetail(verified, why));
    }
    this.counts.active += 1;
  }

  private unavailable(verified: VerifiedToken, why: string): void {
    if (this.config.onUnavailable === 'serve-verified') {
      this.counts.servedVerified += 1;
      this.logger?.debug(
        {
          event: 'introspection.served_verified',
          route: this.route,
          tokenFingerprint: verified.fingerprint,
          why,
        },
        'introspection unavailable; the local verdict serves',
      );
      return;
    }
    this.counts.refused += 1;
    throw new AuthFailure('introspection_unavailable', {
      ...tokenDetail(verified, `introspection: ${why}`),
      retryAfterSeconds: 1,
    });
  }
}

/** Why the answer refuses the token, or undefined when it vouches for it. */
export function inactive(
  answer: IntrospectionAnswer,
  claims: Claims,
  nowSeconds: number,
): string | undefined {
  if (!answer.active) return 'the issuer says the token is not active';
  // RFC 7662 makes these optional: absent is no difference, present and different is another token.
  if (answer.sub !== undefined && answer.sub !== claims.sub) return "the introspected sub is not the token's";
  if (answer.iss !== undefined && answer.iss !== claims.iss) return "the introspected iss is not the token's";
  if (answer.jti !== undefined && answer.jti !== claims.jti) return "the introspected jti is not the token's";
  if (answer.exp !== undefined && answer.exp <= nowSeconds) return 'the introspected exp has passed';
  return undefined;
}
