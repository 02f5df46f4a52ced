import type { FastifyInstance } from 'fastify';
import type { RecentEvents } from '../observability/recent-events.js';
import { isSeverity } from '../observability/recent-events.js';
import type { AdminGuard } from './admin-auth.js';

interface Deps {
  readonly recent: RecentEvents;
  readonly guard: AdminGuard;
}

interface Query {
  after?: string;
  since?: string;
  severity?: string;
  limit?: string;
}

/**
 * GET /events: this instance's latest security events, oldest first. `after` is the last `seq`
 * the caller saw (follow with it), `since` an epoch-ms or RFC 3339 instant, `severity` the
 * minimum (low, high, critical), `limit` at most that many of the newest.
 */
export function registerEventsRoutes(app: FastifyInstance, deps: Deps): void {
  app.addHook('onRequest', deps.guard.hook);
  app.get<{ Querystring: Query }>('/events', async (request, reply) => {
    const q = request.query;
    const after = q.after === undefined ? undefined : Number(q.after);
    const since =
      q.since === undefined ? undefined : /^\d+$/.test(q.since) ? Number(q.since) : Date.parse(q.since);
    const limit = q.limit === undefined ? 500 : Number(q.limit);
    const problems: string[] = [];
    if (after !== undefined && !Number.isSafeInteger(after)) problems.push('after: must be an integer');
    if (since !== undefined && Number.isNaN(since))
      problems.push('since: must be epoch ms or an RFC 3339 instant');
    if (q.severity !== undefined && !isSeverity(q.severity)) problems.push('severity: low, high or critical');
    if (!Number.isSafeInteger(limit) || limit < 1) problems.push('limit: must be a positive integer');
    if (problems.length > 0) return reply.code(400).send({ error: 'invalid_request', problems });
    return {
      latestSeq: deps.recent.latestSeq,
      events: deps.recent.query({
        afterSeq: after,
        sinceMs: since,
        minSeverity: isSeverity(q.severity) ? q.severity : undefined,
        limit: Math.min(limit, deps.recent.capacity),
      }),
    };
  });
}
