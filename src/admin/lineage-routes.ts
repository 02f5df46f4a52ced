import type { FastifyInstance } from 'fastify';
import type { AncestorFacts, LineageRecord } from '../lineage/lineage-record.js';
import type { LineageService } from '../lineage/lineage-service.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { ancestorRule } from '../verify/ancestor-standing.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly lineage: LineageService;
  readonly revocations: RevocationService;
  readonly runtime: RuntimeHolder;
  readonly guard: AdminGuard;
  readonly clock: () => number;
}

/**
 * GET /lineage/:issuer/:jti (viewer): a token's ancestors, each with whether it still stands,
 * and its live descendants; what `provgate lineage show` prints. The record of a minted token
 * this instance has not heard of yet is looked up in the store, as the request path would.
 */
export function registerLineageRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.get<{ Params: { issuer: string; jti: string } }>('/lineage/:issuer/:jti', async (request, reply) => {
    const { issuer, jti } = request.params;
    let record: LineageRecord | undefined;
    try {
      record = await deps.lineage.lookup(issuer, jti);
    } catch (err) {
      return reply.code(503).send({ error: 'store_unavailable', message: (err as Error).message });
    }
    const descendants = deps.lineage.descendantsOf(issuer, jti);
    if (record === undefined && descendants.length === 0) {
      return reply
        .code(404)
        .send({ error: 'not_found', message: `no lineage record names ${issuer} jti ${jti}` });
    }
    const now = deps.clock();
    return {
      token: { issuer, jti },
      record: record ?? null,
      ancestors: (record?.ancestors ?? []).map((a) => ({ ...a, standing: standing(a, deps, now) })),
      descendants: descendants.map((r) => ({
        ...r.child,
        route: r.route,
        at: r.at,
        depth: r.ancestors.length,
        standing: r.ancestors.map((a) => standing(a, deps, now)).find((s) => s !== 'standing') ?? 'standing',
      })),
    };
  });
}

/** `standing`, or the rule by which the ancestor no longer does (as the lineage step judges it). */
function standing(a: AncestorFacts, deps: Deps, now: number): string {
  const { compiled, trust } = deps.runtime.current;
  return ancestorRule(a, deps.revocations.mirror, compiled.registry, trust, now) ?? 'standing';
}
