import type { Logger } from 'pino';
import type { CompiledRoute } from '../../config/compile-routes.js';
import type { Config, IntrospectionConfig } from '../../config/schema.js';
import { clientCredentials } from './client-credentials.js';
import { IntrospectionEndpoint } from './introspection-endpoint.js';
import type { IntrospectionStats } from './introspection-stats.js';
import { Introspector } from './introspector.js';

export interface RouteIntrospectionDeps {
  readonly clock: () => number;
  readonly logger?: Logger | undefined;
  /** Counters that outlive a configuration generation (see IntrospectionStats). */
  readonly stats: IntrospectionStats;
}

/**
 * The introspection steps of one configuration generation: one Introspector per route that has
 * `introspection:`, and one IntrospectionEndpoint per endpoint and client identity, shared by the
 * routes that name the same ones. No I/O until a request needs it (discovery included).
 */
export class RouteIntrospection {
  private readonly byRoute = new Map<CompiledRoute, Introspector>();
  private readonly endpoints = new Map<string, IntrospectionEndpoint>();

  constructor(config: Config, routes: readonly CompiledRoute[], deps: RouteIntrospectionDeps) {
    const settings = new Map<string, { config: IntrospectionConfig; routes: string[]; maxCacheMs: number }>();
    const byName = new Map(config.routes.map((r) => [r.name, r]));
    for (const route of routes) {
      const introspection = byName.get(route.name)?.introspection;
      if (introspection === undefined) continue;
      const id = endpointId(introspection);
      const shared = settings.get(id);
      if (shared === undefined) {
        settings.set(id, {
          config: introspection,
          routes: [route.name],
          maxCacheMs: introspection.cacheSeconds * 1000,
        });
      } else {
        shared.routes.push(route.name);
        shared.maxCacheMs = Math.max(shared.maxCacheMs, introspection.cacheSeconds * 1000);
      }
    }
    for (const [id, s] of settings) {
      const issuer = config.issuers[s.config.issuer]!;
      this.endpoints.set(
        id,
        new IntrospectionEndpoint({
          endpoint: s.config.endpoint,
          discovery:
            s.config.endpoint === undefined && issuer.keys.discovery !== undefined
              ? { url: issuer.keys.discovery, issuer: issuer.issuer }
              : undefined,
          credentials: clientCredentials(s.config),
          maxConcurrent: s.config.maxConcurrent,
          maxResponseBytes: s.config.maxResponseBytes,
          cacheEntries: s.config.cacheEntries,
          maxCacheMs: s.maxCacheMs,
          clock: deps.clock,
          logger: deps.logger,
          name: s.routes.join(', '),
        }),
      );
    }
    for (const route of routes) {
      const introspection = byName.get(route.name)?.introspection;
      if (introspection === undefined) continue;
      const endpoint = this.endpoints.get(endpointId(introspection))!;
      this.byRoute.set(
        route,
        new Introspector(
          route.name,
          introspection,
          endpoint,
          deps.stats.of(route.name),
          deps.clock,
          deps.logger,
        ),
      );
    }
  }

  get size(): number {
    return this.byRoute.size;
  }

  /** The route's introspection step; undefined for a route that does not ask. One Map lookup. */
  forRoute(route: CompiledRoute): Introspector | undefined {
    return this.byRoute.size === 0 ? undefined : this.byRoute.get(route);
  }

  /** Closes the endpoints' connection pools (a retired generation, or the gateway stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.endpoints.values()].map((e) => e.close()));
  }
}

/** Routes share an endpoint when they ask the same one as the same client. */
function endpointId(c: IntrospectionConfig): string {
  return `${c.endpoint ?? `discovery:${c.issuer}`}\n${c.clientId}`;
}
