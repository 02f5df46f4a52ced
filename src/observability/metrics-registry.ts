import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CompiledIssuer } from '../keys/issuer-registry.js';
import type { KeySetStatus } from '../keys/key-set-manager.js';
import { KEY_STATES, keyStateOf } from '../keys/key-state.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import { REASON_CODES, REASONS } from '../verify/reasons.js';
import type { BlockView } from './block-view.js';
import { registerHistogram } from './collected-histogram.js';
import { OUTCOMES, type RequestStats, SEVERITIES, STATUS_CLASSES } from './request-stats.js';

export interface MetricsSources {
  readonly stats: RequestStats;
  /** Read at scrape time from the configuration in force, which a reload replaces. */
  readonly cacheStats: () => { hits: number; misses: number; size: number; bytes: number };
  readonly issuers: () => Iterable<CompiledIssuer>;
  /** Key trust decisions: a key not trusted (quarantined, distrusted, not pinned) counts as quarantined. */
  readonly trust?: TrustIndex | undefined;
  readonly keySets: () => readonly KeySetStatus[];
  readonly revocations: RevocationService;
  readonly clock: () => number;
  readonly isDraining: () => boolean;
  /** Security events written to / dropped before the Redis stream (Redis store only). */
  readonly stream?: { readonly written: number; readonly dropped: number } | undefined;
  /** The blocks of the protection rules in force; undefined without a `protection:` section. */
  readonly blocks?: (() => BlockView | undefined) | undefined;
  readonly version?: string;
}

/**
 * Everything /metrics exposes. Values that the request path produces are read from RequestStats
 * at scrape time; the rest (keys, revocations, caches) is read from its owner at scrape time too,
 * so nothing here costs a request anything.
 */
export function createMetricsRegistry(src: MetricsSources): Registry {
  const registry = new Registry();
  // Standard process_* and nodejs_* series (CPU, memory, GC, event-loop lag): kept under their
  // usual names so that stock Node.js dashboards work.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const { stats } = src;

  new Gauge({
    name: 'provgate_info',
    help: 'Always 1; the version label says what is running',
    labelNames: ['version'],
    registers,
  }).set({ version: src.version ?? 'unknown' }, 1);

  new Counter({
    name: 'provgate_requests_total',
    help: 'Requests on the proxy listener by route, outcome (allowed: passed authentication; refused) and status class',
    labelNames: ['route', 'outcome', 'status_class'],
    registers,
    collect() {
      this.reset();
      stats.routeNames.forEach((route, r) => {
        OUTCOMES.forEach((outcome, o) => {
          STATUS_CLASSES.forEach((statusClass, c) => {
            const value = stats.requestCount(r, o, c);
            if (value > 0) this.inc({ route, outcome, status_class: statusClass }, value);
          });
        });
      });
    },
  });

  new Counter({
    name: 'provgate_refusals_total',
    help: 'Refused requests by reason code and severity (see the README reason table)',
    labelNames: ['reason', 'severity'],
    registers,
    collect() {
      this.reset();
      REASON_CODES.forEach((reason, r) => {
        SEVERITIES.forEach((severity, s) => {
          const value = stats.refusalCount(r, s);
          // Every reason at its usual severity is exported from the start, so rate() sees its first one.
          if (value > 0 || REASONS[reason].severity === severity) this.inc({ reason, severity }, value);
        });
      });
    },
  });

  new Counter({
    name: 'provgate_overload_rejections_total',
    help: 'Requests answered 503 with Retry-After because the event loop lagged past lifecycle.maxEventLoopDelayMs',
    registers,
    collect() {
      this.reset();
      this.inc(stats.overloadRejections);
    },
  });

  registerHistogram(registry, {
    name: 'provgate_token_verification_duration_seconds',
    help: 'Time to verify a token that passed (cache hit or full signature check), excluding the upstream',
    histogram: stats.verification,
  });
  registerHistogram(registry, {
    name: 'provgate_upstream_duration_seconds',
    help: 'Arrival to end of response for requests forwarded upstream, per route',
    histogram: stats.upstream,
    label: { name: 'route', values: stats.routeNames },
    skip: (s) => s === stats.routeNames.length - 1,
  });

  const cache = src.cacheStats;
  counterOf(
    registry,
    'provgate_verified_token_cache_hits_total',
    'Verified-token cache hits',
    () => cache().hits,
  );
  counterOf(
    registry,
    'provgate_verified_token_cache_misses_total',
    'Verified-token cache misses (full verification)',
    () => cache().misses,
  );
  gaugeOf(
    registry,
    'provgate_verified_token_cache_entries',
    'Tokens in the verified-token cache',
    () => cache().size,
  );
  gaugeOf(
    registry,
    'provgate_verified_token_cache_bytes',
    'Estimated bytes held by the verified-token cache',
    () => cache().bytes,
  );

  new Gauge({
    name: 'provgate_issuer_keys',
    help: 'Keys in each issuer set by state (active, inactive, revoked, quarantined, retiring)',
    labelNames: ['issuer', 'state'],
    registers,
    collect() {
      this.reset();
      const now = src.clock();
      for (const issuer of src.issuers()) {
        const counts = new Map(KEY_STATES.map((s) => [s, 0]));
        for (const key of issuer.keys.all) {
          const trust = src.trust === undefined ? undefined : { index: src.trust, policy: issuer.trust };
          const state = keyStateOf(key, src.revocations.mirror, now, trust);
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        for (const [state, value] of counts) this.set({ issuer: issuer.id, state }, value);
      }
    },
  });

  const keySets = src.keySets;
  new Gauge({
    name: 'provgate_key_set_loaded',
    help: '1 when the issuer key set is loaded; 0 while a remote set has never been fetched',
    labelNames: ['issuer'],
    registers,
    collect() {
      this.reset();
      for (const s of keySets()) this.set({ issuer: s.issuerId }, s.loaded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'provgate_key_set_last_success_timestamp_seconds',
    help: 'When a remote key set was last fetched successfully (remote sets only)',
    labelNames: ['issuer'],
    registers,
    collect() {
      this.reset();
      for (const s of keySets()) {
        if (s.lastSuccessAt !== undefined)
          this.set({ issuer: s.issuerId }, Date.parse(s.lastSuccessAt) / 1000);
      }
    },
  });
  new Gauge({
    name: 'provgate_key_set_consecutive_failures',
    help: 'Remote key set fetches that failed since the last success',
    labelNames: ['issuer'],
    registers,
    collect() {
      this.reset();
      for (const s of keySets()) if (s.remote) this.set({ issuer: s.issuerId }, s.consecutiveFailures);
    },
  });

  new Gauge({
    name: 'provgate_revocations',
    help: 'Revocations in force in this instance mirror, by kind',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const counts = { key: 0, token: 0, subject: 0, issuer: 0, session: 0 };
      for (const record of src.revocations.mirror.list()) counts[record.kind] += 1;
      for (const [kind, value] of Object.entries(counts)) this.set({ kind }, value);
    },
  });
  new Gauge({
    name: 'provgate_revocation_store_up',
    help: '1 when the revocation store answered at last contact',
    labelNames: ['store'],
    registers,
    collect() {
      this.reset();
      const store = src.revocations.store;
      this.set({ store: store.kind }, store.available ? 1 : 0);
    },
  });
  gaugeOf(
    registry,
    'provgate_revocation_mirror_stale_seconds',
    'Seconds since the revocation mirror was last known to equal the store (0 while the store is up)',
    () => src.revocations.staleSeconds(),
  );

  if (src.blocks !== undefined) {
    const blocksInForce = src.blocks;
    new Gauge({
      name: 'provgate_blocks',
      help: 'Active blocks by target (address, token, subject)',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        // No series while no protection rules are in force (a reload may add or remove them).
        const blocks = blocksInForce();
        if (blocks === undefined) return;
        const counts: Record<string, number> = { address: 0, token: 0, subject: 0 };
        for (const block of blocks.list()) counts[block.target] = (counts[block.target] ?? 0) + 1;
        for (const [target, value] of Object.entries(counts)) this.set({ target }, value);
      },
    });
  }
  if (src.stream !== undefined) {
    const stream = src.stream;
    counterOf(
      registry,
      'provgate_security_events_streamed_total',
      'Security events written to the Redis stream',
      () => stream.written,
    );
    counterOf(
      registry,
      'provgate_security_events_dropped_total',
      'Security events not written to the Redis stream (Redis away and the buffer full)',
      () => stream.dropped,
    );
  }
  gaugeOf(registry, 'provgate_draining', '1 while the instance drains after SIGTERM/SIGINT', () =>
    src.isDraining() ? 1 : 0,
  );
  return registry;
}

function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gaugeOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
