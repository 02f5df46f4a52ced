import type { FastifyError, FastifyInstance } from 'fastify';
import { formatPath } from '../config/expand-env.js';
import type { LineageService } from '../lineage/lineage-service.js';
import { revocationRequestSchema } from '../revocation/revocation-request.js';
import { RevocationRefusedError, type RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { actorFacts } from './admin-actor.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  readonly guard: AdminGuard;
  /** Counts the minted tokens a revocation took down (their lineage reaches what it revokes). */
  readonly lineage?: Pick<LineageService, 'reached'> | undefined;
}

/** POST/GET/DELETE /revocations. A 201 means the store has the record; nothing is acknowledged and dropped. */
export function registerRevocationRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof StoreUnavailableError) {
      return reply
        .code(503)
        .send({ error: 'store_unavailable', message: `revocation not stored: ${error.message}` });
    }
    if (error instanceof RevocationRefusedError) {
      return reply.code(error.status).send({ error: 'refused', message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error }, 'admin API error');
    return reply.code(500).send({ error: 'server_error' });
  });

  app.post('/revocations', async (request, reply) => {
    const parsed = revocationRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
      return reply.code(400).send({ error: 'invalid_request', problems });
    }
    const body = parsed.data;
    if (!deps.runtime.current.compiled.registry.byId.has(body.issuer)) {
      return reply
        .code(400)
        .send({ error: 'invalid_request', problems: [`issuer: unknown issuer ${body.issuer}`] });
    }
    const { reason, by, ...spec } = body;
    const { record, created } = await deps.revocations.revoke(spec, {
      reason,
      // Who asked is what the guard established; a `by` in the body is only a note.
      ...actorFacts(request.adminActor, by),
      // The channel, not who: the CLI notes itself as `cli:<user>`.
      source: by?.startsWith('cli:') ? 'cli' : 'api',
    });
    // Live minted tokens whose ancestor this revocation reaches: each is refused parent_revoked now.
    const descendants = deps.lineage?.reached(spec);
    return reply
      .code(created ? 201 : 200)
      .send(descendants === undefined ? record : { ...record, descendants });
  });

  app.get('/revocations', async () => ({ revocations: deps.revocations.list() }));

  app.get<{ Querystring: { limit?: string } }>('/revocations/audit', async (request) => {
    const limit = Math.min(Math.max(Number(request.query.limit ?? 1000) || 1000, 1), 100_000);
    return { audit: await deps.revocations.store.audit(limit) };
  });

  app.delete<{ Params: { id: string } }>('/revocations/:id', async (request) => {
    const removed = await deps.revocations.unrevoke(request.params.id, actorFacts(request.adminActor).by);
    return { removed };
  });
}
