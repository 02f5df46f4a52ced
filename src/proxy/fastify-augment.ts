import type { VerifiedToken } from '../verify/verify-token.js';
import type { CompiledRoute } from './compile-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token; set by the auth hook before any handler runs. */
    auth: VerifiedToken | null;
    gatewayRoute: CompiledRoute | null;
  }
}
