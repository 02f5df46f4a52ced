import type { FastifyInstance } from 'fastify';
import { keySetReadiness } from '../keys/key-set-status.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';

export interface HealthDeps {
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  /** Set when the process is draining: readiness turns false first so balancers stop sending. */
  readonly isDraining: () => boolean;
}

/** Liveness says the process answers; readiness says whether it should get traffic, and why not. */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const problems: string[] = [];
    const degraded: string[] = [];
    if (deps.isDraining()) problems.push('draining');
    // Per issuer: a set that never loaded is not ready; one whose refresh fails serves the last good copy.
    const keys = deps.runtime.current.compiled.keySets.status();
    const keyReadiness = keySetReadiness(keys);
    problems.push(...keyReadiness.problems);
    degraded.push(...keyReadiness.degraded);
    const store = deps.revocations.store;
    if (!store.available) {
      const why = `revocation store (${store.kind}) unavailable: ${store.unavailableReason ?? 'unknown'}`;
      if (deps.revocations.isStale()) problems.push(`${why}; state stale, fail-closed`);
      else degraded.push(`${why}; serving the last known revocations`);
    }
    const status = problems.length > 0 ? 'not_ready' : degraded.length > 0 ? 'degraded' : 'ready';
    reply.code(problems.length > 0 ? 503 : 200);
    return {
      status,
      problems,
      degraded,
      store: { kind: store.kind, available: store.available, staleSeconds: deps.revocations.staleSeconds() },
      revocations: deps.revocations.mirror.size,
      keys: Object.fromEntries(
        keys.map((k) => [
          k.issuerId,
          {
            source: k.source,
            loaded: k.loaded,
            keyCount: k.keyCount,
            lastRefreshAt: k.lastRefreshAt,
            lastSuccessAt: k.lastSuccessAt,
            lastError: k.lastError,
          },
        ]),
      ),
    };
  });
}
