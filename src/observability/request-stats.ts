import type { onResponseHookHandler } from 'fastify';
import type { CompiledRoute } from '../config/compile-routes.js';
import type { KeyEntry } from '../keys/key-entry.js';
import { REASON_CODES, type Severity } from '../verify/reasons.js';
import { LocalHistogram } from './local-histogram.js';
import type { RefusalEvent } from './security-events.js';

export const OUTCOMES = ['allowed', 'refused'] as const;
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const SEVERITIES: readonly Severity[] = ['low', 'high', 'critical'];
/** The route label of a request that matched no route (404, overload, bad path). */
export const NO_ROUTE = 'none';

// A cache hit costs ~2 µs and a signature ~20-50 µs; the buckets resolve both.
export const VERIFY_BOUNDS = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2];
export const UPSTREAM_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const REASON_INDEX = new Map<string, number>(REASON_CODES.map((r, i) => [r, i]));
const CLASSES = STATUS_CLASSES.length;

function severityIndex(severity: Severity): number {
  return severity === 'low' ? 0 : severity === 'high' ? 1 : 2;
}

/**
 * The per-request numbers behind /metrics and the dashboard, kept in typed arrays indexed by
 * configuration (routes, reasons): recording is a few array additions, never an allocation, a
 * label hash or an await. prom-client reads them only when scraped (see metrics-registry.ts).
 */
export class RequestStats {
  /**
   * Route names in label order; the last is NO_ROUTE. Grows in place when a reload adds routes
   * (metrics hold this array); a route a reload removed keeps its row, as counters never go back.
   */
  readonly routeNames: string[];
  /** route × outcome × status class. */
  requests: Float64Array;
  /** reason × severity. */
  readonly refusals: Float64Array;
  readonly verification = new LocalHistogram(VERIFY_BOUNDS, 1);
  /** Per route: arrival to end of response, for requests forwarded upstream. */
  readonly upstream: LocalHistogram;
  totalRequests = 0;
  totalRefusals = 0;
  readonly refusalsBySeverity = new Float64Array(SEVERITIES.length);
  overloadRejections = 0;
  /** By name, not by object: every configuration generation has its own route objects. */
  private readonly routeIndex = new Map<string, number>();
  /** issuer id -> kid -> performance.now() of the last token it verified. Bounded by the key sets. */
  private readonly lastSeen = new Map<string, Map<string, number>>();

  constructor(routes: readonly CompiledRoute[]) {
    this.routeNames = [...routes.map((r) => r.name), NO_ROUTE];
    for (const [i, route] of routes.entries()) this.routeIndex.set(route.name, i);
    this.requests = new Float64Array(this.routeNames.length * OUTCOMES.length * CLASSES);
    this.refusals = new Float64Array(REASON_CODES.length * SEVERITIES.length);
    this.upstream = new LocalHistogram(UPSTREAM_BOUNDS, this.routeNames.length);
  }

  /** Rows for routes a reload introduced, inserted before NO_ROUTE, which stays last. */
  addRoutes(routes: readonly CompiledRoute[]): void {
    const fresh = [...new Set(routes.map((r) => r.name))].filter((name) => !this.routeIndex.has(name));
    if (fresh.length === 0) return;
    const at = this.routeNames.length - 1;
    const width = OUTCOMES.length * CLASSES;
    const requests = new Float64Array((this.routeNames.length + fresh.length) * width);
    requests.set(this.requests.subarray(0, at * width));
    requests.set(this.requests.subarray(at * width), (at + fresh.length) * width);
    this.requests = requests;
    this.upstream.insertSeries(at, fresh.length);
    this.routeNames.splice(at, 0, ...fresh);
    for (const [i, name] of fresh.entries()) this.routeIndex.set(name, at + i);
  }

  /** Fastify onResponse hook of the proxy listener. */
  readonly onResponse: onResponseHookHandler = (request, reply, done) => {
    const route = request.gatewayRoute;
    const index =
      route === null
        ? this.routeNames.length - 1
        : (this.routeIndex.get(route.name) ?? this.routeNames.length - 1);
    const allowed = request.auth !== null;
    let cls = ((reply.statusCode / 100) | 0) - 1;
    if (cls < 0 || cls >= CLASSES) cls = CLASSES - 1;
    this.requests[(index * OUTCOMES.length + (allowed ? 0 : 1)) * CLASSES + cls]! += 1;
    this.totalRequests += 1;
    if (allowed) this.upstream.observe(index, reply.elapsedTime / 1000);
    done();
  };

  /** A token verified: `startedMs` is performance.now() taken just before verification. */
  verified(key: KeyEntry, startedMs: number): void {
    const now = performance.now();
    this.verification.observe(0, (now - startedMs) / 1000);
    let kids = this.lastSeen.get(key.issuerId);
    if (kids === undefined) {
      kids = new Map();
      this.lastSeen.set(key.issuerId, kids);
    }
    kids.set(key.kid, now);
  }

  /** SecurityEvents listener. */
  readonly refused = (event: RefusalEvent): void => {
    const reason = REASON_INDEX.get(event.reason);
    if (reason === undefined) return;
    const severity = severityIndex(event.severity);
    this.refusals[reason * SEVERITIES.length + severity]! += 1;
    this.refusalsBySeverity[severity]! += 1;
    this.totalRefusals += 1;
  };

  /** Epoch ms at which this key last verified a token, if it did since the start. */
  keyLastSeen(issuerId: string, kid: string): number | undefined {
    const at = this.lastSeen.get(issuerId)?.get(kid);
    return at === undefined ? undefined : performance.timeOrigin + at;
  }

  requestCount(route: number, outcome: number, cls: number): number {
    return this.requests[(route * OUTCOMES.length + outcome) * CLASSES + cls]!;
  }

  refusalCount(reason: number, severity: number): number {
    return this.refusals[reason * SEVERITIES.length + severity]!;
  }
}
