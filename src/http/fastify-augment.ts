import type { CompiledRoute } from '../config/compile-routes.js';
import type { GatewayRuntime } from '../runtime/gateway-runtime.js';
import type { VerifiedToken } from '../verify/verify-token.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token; set by the auth hook before any handler runs. */
    auth: VerifiedToken | null;
    gatewayRoute: CompiledRoute | null;
    /** The configuration generation this request is served under, from arrival to the end. */
    runtime: GatewayRuntime | null;
  }
}
