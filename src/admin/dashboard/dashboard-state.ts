import { keySetReadiness } from '../../keys/key-set-status.js';
import { keyStateOf } from '../../keys/key-state.js';
import { trustVerdict } from '../../keys/key-trust.js';
import type { LineageService } from '../../lineage/lineage-service.js';
import type { BlockView } from '../../observability/block-view.js';
import type { Observability } from '../../observability/observability.js';
import type { RevocationRecord } from '../../revocation/revocation-record.js';
import type { RevocationService } from '../../revocation/revocation-service.js';
import type { RuntimeHolder } from '../../runtime/runtime-holder.js';
import type { SignalReceiver } from '../../signals/signal-receiver.js';

export interface DashboardStateDeps {
  /** The configuration in force: a reload replaces it. */
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  readonly observability: Observability;
  /** The blocks of the protection rules in force; undefined without a `protection:` section. */
  readonly blocks: () => BlockView | undefined;
  readonly clock: () => number;
  readonly isDraining: () => boolean;
  /** The Shared Signals receiver; undefined without a `signals:` section. */
  readonly signals?: SignalReceiver | undefined;
  /** Lineage records: how many live minted tokens each revocation took down. */
  readonly lineage?: Pick<LineageService, 'reached' | 'mirror'> | undefined;
}

const AUDIT_SHOWN = 50;
const EVENTS_PER_POLL = 200;
const RATE_SECONDS = 300;
/**
 * Each revocation is held against every lineage record, every second the page polls: past this
 * many comparisons the counts are left out (the POST answer and the toast still say it).
 */
const DESCENDANT_CHECKS = 200_000;

interface AuditCapable {
  audit(limit: number): Promise<unknown[]>;
}

/** Everything the dashboard page shows, in one JSON document it polls every second. */
export async function dashboardState(
  deps: DashboardStateDeps,
  afterSeq: number,
): Promise<Record<string, unknown>> {
  const now = deps.clock();
  const { revocations, observability } = deps;
  const { compiled } = deps.runtime.current;
  const keySets = compiled.keySets.status();
  const sourceOf = new Map(keySets.map((s) => [s.issuerId, s]));
  const readiness = keySetReadiness(keySets);
  const store = revocations.store;
  const problems = [...readiness.problems];
  const degraded = [...readiness.degraded];
  if (!store.available) {
    (revocations.isStale() ? problems : degraded).push(
      `revocation store unavailable: ${store.unavailableReason ?? 'unknown'}`,
    );
  }
  const state = deps.isDraining()
    ? 'draining'
    : problems.length > 0
      ? 'not_ready'
      : degraded.length > 0
        ? 'degraded'
        : 'ready';

  const trustIndex = deps.runtime.current.trust;
  const issuers = [...compiled.registry.byId.values()].map((issuer) => {
    const status = sourceOf.get(issuer.id);
    const view = trustIndex === undefined ? undefined : { index: trustIndex, policy: issuer.trust };
    return {
      id: issuer.id,
      iss: issuer.iss,
      role: issuer.role,
      source: status?.source ?? '',
      loaded: issuer.keys.loaded,
      lastError: status?.lastError,
      keys: issuer.keys.all.map((key) => ({
        kid: key.kid,
        kty: key.kty,
        crv: key.crv,
        alg: key.alg,
        state: keyStateOf(key, revocations.mirror, now, view),
        thumbprint: key.thumbprint,
        // What an operator can decide about it: trusted, quarantined, distrusted or not_pinned.
        trust: view === undefined ? 'trusted' : trustVerdict(view.policy, view.index, key, now),
        notBefore: key.notBefore,
        notAfter: key.notAfter,
        lastSeen: observability.stats.keyLastSeen(issuer.id, key.kid),
      })),
    };
  });

  const records = withDescendants(
    revocations.list().sort((a, b) => b.at.localeCompare(a.at)),
    deps.lineage,
  );
  let audit: unknown[];
  let auditSource: 'store' | 'records';
  if (typeof (store as Partial<AuditCapable>).audit === 'function') {
    auditSource = 'store';
    try {
      audit = (await (store as unknown as AuditCapable).audit(AUDIT_SHOWN)).reverse();
    } catch {
      audit = [];
    }
  } else {
    // A store without an audit trail: each record still says who revoked what, when and why.
    auditSource = 'records';
    audit = records
      .slice(0, AUDIT_SHOWN)
      .map((record) => ({ op: 'add', at: record.at, by: record.by, record }));
  }

  return {
    now,
    status: { state, problems, degraded },
    store: { kind: store.kind, available: store.available, staleSeconds: revocations.staleSeconds() },
    issuers,
    revocations: records,
    audit,
    auditSource,
    blocks: deps.blocks()?.list() ?? null,
    signals: deps.signals === undefined ? null : await deps.signals.status(),
    events: {
      latestSeq: observability.recent.latestSeq,
      items: observability.recent.query({ afterSeq, limit: EVENTS_PER_POLL }),
    },
    rates: observability.rates.list().slice(-RATE_SECONDS),
  };
}

/** The records with `descendants`, the live minted tokens each takes down, when that is cheap. */
function withDescendants(
  records: RevocationRecord[],
  lineage: DashboardStateDeps['lineage'],
): (RevocationRecord & { descendants?: number })[] {
  if (lineage === undefined || lineage.mirror.size * records.length > DESCENDANT_CHECKS) return records;
  return records.map((record) => ({ ...record, descendants: lineage.reached(record) }));
}
