import type { FastifyError, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatPath } from '../config/expand-env.js';
import type { CompiledIssuer } from '../keys/issuer-registry.js';
import { keyStateOf } from '../keys/key-state.js';
import { trustVerdict } from '../keys/key-trust.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RuntimeHolder } from '../runtime/runtime-holder.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import type { TrustService } from '../trust/trust-service.js';
import { actorFacts } from './admin-actor.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  /** The key sets in force: a reload replaces them. */
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  /** Undefined when the admin app is built without one (tests): the routes answer 404. */
  readonly trust?: TrustService | undefined;
  readonly guard: AdminGuard;
  readonly clock?: (() => number) | undefined;
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const decisionBody = z
  .strictObject({
    /** The key material meant: refused (409) when the kid names other material now. */
    thumbprint: z.string().regex(THUMBPRINT, 'must be an RFC 7638 SHA-256 thumbprint').optional(),
    note: z.string().min(1).max(512).optional(),
    /** Who the caller says it is: kept only as a note, `by` is what the guard established. */
    by: z.string().min(1).max(256).optional(),
  })
  .optional();

/**
 * GET /keys: every issuer's keys with their thumbprint, state and trust decision; GET /keys/audit;
 * POST /keys/:issuer/:kid/trust and /distrust (role operator). A decision answers only once the
 * store has it (503 when the store is away: nothing changed), and names the key's thumbprint, so a
 * different key later published under the same kid is quarantined again.
 */
export function registerKeyTrustRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof StoreUnavailableError) {
      return reply
        .code(503)
        .send({ error: 'store_unavailable', message: `decision not stored: ${error.message}` });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: 'bad_request', message: error.message });
    request.log.error({ err: error }, 'admin API error');
    return reply.code(500).send({ error: 'server_error' });
  });
  const clock = deps.clock ?? Date.now;

  app.get('/keys', async (_request, reply) => {
    const trust = deps.trust;
    if (trust === undefined) return reply.code(404).send({ error: 'not_found', message: 'no trust store' });
    const now = clock();
    const issuers = [...deps.runtime.current.compiled.registry.byId.values()].map((issuer) =>
      describeIssuer(issuer, trust, deps.revocations, now),
    );
    return { issuers, decisions: trust.list() };
  });

  app.get<{ Querystring: { limit?: string } }>('/keys/audit', async (request, reply) => {
    if (deps.trust === undefined)
      return reply.code(404).send({ error: 'not_found', message: 'no trust store' });
    const limit = Math.min(Math.max(Number(request.query.limit ?? 1000) || 1000, 1), 100_000);
    return { audit: await deps.trust.audit(limit) };
  });

  for (const action of ['trust', 'distrust'] as const) {
    app.post<{ Params: { issuer: string; kid: string } }>(
      `/keys/:issuer/:kid/${action}`,
      async (request, reply) => {
        const trust = deps.trust;
        if (trust === undefined)
          return reply.code(404).send({ error: 'not_found', message: 'no trust store' });
        const parsed = decisionBody.safeParse(request.body ?? undefined);
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
          return reply.code(400).send({ error: 'invalid_request', problems });
        }
        const body = parsed.data ?? {};
        const { issuer: issuerId, kid } = request.params;
        const issuer = deps.runtime.current.compiled.registry.byId.get(issuerId);
        if (issuer === undefined) {
          return reply.code(404).send({ error: 'not_found', message: `no issuer ${issuerId}` });
        }
        const key = issuer.keys.byKid.get(kid);
        if (key === undefined && body.thumbprint === undefined) {
          return reply.code(404).send({
            error: 'not_found',
            message: `issuer ${issuerId} serves no key ${kid}; name the key material with "thumbprint" to decide ahead`,
          });
        }
        if (key !== undefined && body.thumbprint !== undefined && key.thumbprint !== body.thumbprint) {
          return reply.code(409).send({
            error: 'conflict',
            message: `key ${kid} of ${issuerId} is now thumbprint ${key.thumbprint}, not ${body.thumbprint}: the kid names other key material`,
          });
        }
        const thumbprint = key?.thumbprint ?? body.thumbprint!;
        const facts = actorFacts(request.adminActor, body.note ?? body.by);
        const { record, previous } = await trust.decide(
          issuerId,
          kid,
          thumbprint,
          action === 'trust' ? 'trusted' : 'distrusted',
          { ...facts, alg: key?.alg, x5cSubject: key?.x5cSubject },
        );
        const verdict = key === undefined ? undefined : trustVerdict(issuer.trust, trust.index, key, clock());
        const pinned = issuer.trust?.pin;
        return reply.code(previous?.state === record.state ? 200 : 201).send({
          record,
          previous: previous?.state,
          verdict,
          ...(action === 'trust' && pinned !== undefined && !pinned.has(thumbprint)
            ? { warning: `keys.pin of ${issuerId} does not list this key: it stays refused (key_not_pinned)` }
            : {}),
        });
      },
    );
  }
}

function describeIssuer(
  issuer: CompiledIssuer,
  trust: TrustService,
  revocations: RevocationService,
  now: number,
) {
  const view = { index: trust.index, policy: issuer.trust };
  return {
    id: issuer.id,
    newKeys: issuer.trust?.quarantineNewKeys === true ? 'quarantine' : 'trust',
    quarantineSeconds:
      issuer.trust?.quarantineMs === undefined ? undefined : issuer.trust.quarantineMs / 1000,
    pinned: issuer.trust?.pin === undefined ? undefined : [...issuer.trust.pin],
    keys: issuer.keys.all.map((key) => ({
      kid: key.kid,
      thumbprint: key.thumbprint,
      kty: key.kty,
      alg: key.alg,
      state: keyStateOf(key, revocations.mirror, now, view),
      trust: trustVerdict(issuer.trust, trust.index, key, now),
      decision: trust.index.get(issuer.id, key.thumbprint),
    })),
  };
}
