import type { CompiledRoute } from '../config/compile-routes.js';
import type { ProtectionConfig } from '../config/schema.js';
import { AuthFailure, type ResponseHeaders } from '../verify/auth-failure.js';
import { tokenDetail } from '../verify/token-detail.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import type { AnomalyActions } from './anomaly-actions.js';
import { rateLimitField, rateLimitPolicyField } from './rate-limit-fields.js';
import type { SharedTallies } from './shared-tallies.js';
import { subjectKey } from './subject-key.js';
import { type WindowCounter, WindowCounters } from './window-counters.js';

/** The schema's limit, with its route names as a Set (undefined is every route). */
export type RateLimitSpec = Readonly<
  Omit<ProtectionConfig['rateLimits'][number], 'routes'> & { routes: ReadonlySet<string> | undefined }
>;
export type RateLimitKey = RateLimitSpec['key'];

class Rule {
  readonly policy: string;
  readonly counters: WindowCounters;

  constructor(
    readonly spec: RateLimitSpec,
    shared: SharedTallies | undefined,
  ) {
    this.policy = rateLimitPolicyField(spec.name, spec.limit, spec.windowSeconds);
    this.counters = new WindowCounters(`rl:${spec.name}`, spec.windowSeconds * 1000, shared);
  }
}

/**
 * Fixed-window limits per subject, token, client address or route, held across instances.
 *
 * Counting is local and shared in batches every P (`shareIntervalMilliseconds`): an instance
 * admits while (cluster total from its last batch) + (its own counts since) is under the limit.
 * Overshoot bound, with d the longest batch round trip and R the cluster-wide request rate on
 * one key: once the true count reaches the limit, another instance's counts reach Redis within
 * P + d, and every instance still admitting sends a batch that brings them back within another
 * P + d; so the cluster admits at most  limit + R × 2(P + d)  in a window. It also never admits
 * more than N × limit with N instances, since each instance always counts its own requests.
 * With the memory store there is one instance and the limit is exact. Measured and asserted in
 * test/integration/protection-rate-limit-cluster.test.ts.
 */
export class RateLimits {
  private readonly rules: Rule[];
  private readonly byRoute = new Map<string, Rule[]>();
  /** Reused between the check pass and the count pass: no allocation per request. */
  private readonly scratch: WindowCounter[] = [];

  constructor(
    specs: readonly RateLimitSpec[],
    routeNames: readonly string[],
    shared: SharedTallies | undefined,
    private readonly actions: AnomalyActions,
  ) {
    this.rules = specs.map((spec) => new Rule(spec, shared));
    for (const route of routeNames) {
      const rules = this.rules.filter((r) => r.spec.routes === undefined || r.spec.routes.has(route));
      if (rules.length > 0) this.byRoute.set(route, rules);
    }
  }

  get flushers(): (() => Promise<void>)[] {
    return this.rules.map((r) => () => r.counters.flush());
  }

  /**
   * Every rule is checked before any counts, so a request refused by one limit does not use up
   * another. Enforced: 429 rate_limited with Retry-After and the RateLimit fields. An admitted
   * request gets no fields (see rate-limit-fields.ts), so the answer is then always undefined.
   */
  admit(
    token: VerifiedToken,
    route: CompiledRoute,
    address: string,
    now: number,
  ): ResponseHeaders | undefined {
    const rules = this.byRoute.get(route.name);
    if (rules === undefined) return undefined;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const counter = rule.counters.at(keyOf(rule.spec.key, token, route, address), now);
      this.scratch[i] = counter;
      if (counter.count() < rule.spec.limit) continue;
      if (rule.spec.mode === 'enforce') this.refuse(rule, counter, token, now);
      if (!counter.flagged) {
        counter.flagged = true;
        this.actions.flag({
          rule: 'rate_limit',
          mode: 'monitor',
          limit: rule.spec.name,
          subject: token.claims.sub,
          issuer: token.issuer.id,
          tokenFingerprint: token.fingerprint,
          route: route.name,
          addresses: [address],
          counts: {
            requests: counter.count(),
            limit: rule.spec.limit,
            windowSeconds: rule.spec.windowSeconds,
          },
        });
      }
    }
    for (let i = 0; i < rules.length; i++) rules[i]!.counters.add(this.scratch[i]!);
    return undefined;
  }

  private refuse(rule: Rule, counter: WindowCounter, token: VerifiedToken, now: number): never {
    const seconds = Math.max(1, Math.ceil(rule.counters.msLeft(counter, now) / 1000));
    const { name, limit, windowSeconds } = rule.spec;
    throw new AuthFailure('rate_limited', {
      ...tokenDetail(token, `rate limit ${name}: ${limit} per ${windowSeconds}s`),
      retryAfterSeconds: seconds,
      headers: { 'ratelimit-policy': rule.policy, ratelimit: rateLimitField(name, 0, seconds) },
    });
  }
}

function keyOf(key: RateLimitKey, token: VerifiedToken, route: CompiledRoute, address: string): string {
  switch (key) {
    case 'subject':
      return subjectKey(token);
    case 'token':
      return token.fingerprint;
    case 'ip':
      return address;
    case 'route':
      return route.name;
  }
}
