import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { OverloadCheck } from './overload-guard.js';

export interface RequestHookSteps {
  /** 503 overloaded while the event loop lags (overload-guard.ts); undefined when that is off. */
  readonly overload: OverloadCheck | undefined;
  /** 431 too_many_headers (header-limit.ts). */
  readonly headerLimit: (request: FastifyRequest, reply: FastifyReply) => boolean;
  /**
   * The request pipeline (auth-hook.ts, steps listed in request-pipeline.ts), except on the Shared
   * Signals receiver's push path (exceptPushPath), whose signed SET its route checks.
   */
  readonly authenticate: onRequestHookHandler;
}

/**
 * The proxy listener's one onRequest hook, one pass of Fastify's hook runner per request, in
 * this order:
 *   1. overload     an overloaded instance spends no signature check on a 503
 *   2. header count before any token work
 *   3. the pipeline
 * The first two refuse by themselves and return true; the pipeline answers or calls `done`.
 */
export function createRequestHook(steps: RequestHookSteps): onRequestHookHandler {
  const { overload, headerLimit, authenticate } = steps;
  return function onRequest(request, reply, done) {
    if (overload?.(reply) === true) return;
    if (headerLimit(request, reply)) return;
    authenticate.call(this, request, reply, done);
  };
}
