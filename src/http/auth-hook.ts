import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import { KeyRefetchPending } from '../keys/key-refetch.js';
import { sendRefusal } from '../proxy/refusal-reply.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import { AuthFailure } from '../verify/auth-failure.js';
import {
  Authorization,
  authorize,
  confirmPending,
  hasPending,
  type PipelineDeps,
  refuse,
} from './request-pipeline.js';

export interface AuthHookDeps extends PipelineDeps {
  /** The configuration generation in force (routes, verifier, protection); a reload replaces it. */
  readonly runtime: { readonly current: GatewayRuntime };
}

/**
 * The request pipeline (request-pipeline.ts, where its steps are listed) in onRequest, so that
 * nothing of a refused request's body is read; a refusal is answered here, by sendRefusal.
 */
export function createAuthHook(deps: AuthHookDeps): onRequestHookHandler {
  // One for the listener, not one per request: authorize() fills it synchronously and `pass`
  // reads it before returning, so no two requests ever hold it at once, a refetch wait included.
  const authorization = new Authorization();

  return function authenticate(request, reply, done) {
    // Read once: this request is served under this generation whatever a reload does meanwhile.
    const runtime = deps.runtime.current;
    request.runtime = runtime;
    runtime.authenticating += 1;
    pass(runtime, request, reply, done, true);
  };

  function pass(
    runtime: GatewayRuntime,
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    mayRefetch: boolean,
  ): void {
    try {
      request.auth = authorize(runtime, deps, request.raw, request.url, mayRefetch, authorization);
    } catch (err) {
      if (err instanceof KeyRefetchPending) {
        // An unknown kid while the issuer's key set is being refetched (the only async path):
        // wait for that one shared, time-bounded fetch, then run once more without refetch.
        void err.settled.then(() => pass(runtime, request, reply, done, false));
        return;
      }
      runtime.authenticating -= 1;
      // Refusals are counted by route too (request-stats.ts), once the route step has passed.
      request.gatewayRoute = authorization.route ?? null;
      if (!(err instanceof AuthFailure)) {
        done(err as Error);
        return;
      }
      sendRefusal(reply, refuse(err, authorization, request.raw, request.url, deps.events));
      return;
    }
    if (hasPending(authorization)) {
      // With the Redis store: a DPoP proof's one shared replay check, or the lineage lookup of a
      // minted token this instance has not heard of yet, are the only awaits a request with a
      // good token can meet. The listener's Authorization serves the next request meanwhile, so
      // this one holds a copy.
      const held = authorization.held();
      confirmPending(deps, held).then(
        () => admit(runtime, request, reply, done, held),
        (err: unknown) => {
          runtime.authenticating -= 1;
          request.gatewayRoute = held.route ?? null;
          if (!(err instanceof AuthFailure)) {
            done(err as Error);
            return;
          }
          sendRefusal(reply, refuse(err, held, request.raw, request.url, deps.events));
        },
      );
      return;
    }
    admit(runtime, request, reply, done, authorization);
  }

  function admit(
    runtime: GatewayRuntime,
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    authorization: Authorization,
  ): void {
    runtime.authenticating -= 1;
    request.gatewayRoute = authorization.route ?? null;
    const headers = authorization.headers;
    // On the raw response: the proxy leg writes the upstream's answer there itself, and Node
    // merges these into it (the upstream's own header of the same name wins).
    if (headers !== undefined) for (const name in headers) reply.raw.setHeader(name, headers[name]!);
    done();
  }
}
