import { Counter, type Registry } from 'prom-client';
import type { IntrospectionCounts, IntrospectionStats } from './introspection-stats.js';

const OUTCOMES: readonly (readonly [string, keyof IntrospectionCounts])[] = [
  ['active', 'active'],
  ['inactive', 'inactive'],
  ['unavailable_refused', 'refused'],
  ['unavailable_served', 'servedVerified'],
];

/**
 * `provgate_introspection_total{route, outcome}` and `provgate_introspection_requests_total{route,
 * source}`: read from plain counters at scrape time, as the request path only bumps a field.
 */
export function registerIntrospectionMetrics(registry: Registry, stats: IntrospectionStats): void {
  new Counter({
    name: 'provgate_introspection_total',
    help: 'Introspection verdicts by route: active, inactive (401 token_inactive), unavailable_refused (503 introspection_unavailable, fail-closed), unavailable_served (the local verdict served, serve-verified)',
    labelNames: ['route', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, counts] of stats.entries()) {
        for (const [outcome, field] of OUTCOMES) this.inc({ route, outcome }, counts[field]);
      }
    },
  });
  new Counter({
    name: 'provgate_introspection_answers_total',
    help: 'Where introspection answers came from, by route: endpoint (a request sent, one per token in flight) or cache',
    labelNames: ['route', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, counts] of stats.entries()) {
        this.inc({ route, source: 'endpoint' }, counts.requested);
        this.inc({ route, source: 'cache' }, counts.cached);
      }
    },
  });
}
