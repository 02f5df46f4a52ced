/** What one route's introspection step did, since the process started (a reload keeps counting). */
export interface IntrospectionCounts {
  /** Answers taken from the cache. */
  cached: number;
  /** Requests sent to the endpoint (one per token at a time: single flight). */
  requested: number;
  active: number;
  inactive: number;
  /** Endpoint unavailable and the request refused (fail-closed). */
  refused: number;
  /** Endpoint unavailable and the local verdict served (serve-verified). */
  servedVerified: number;
}

/** Counters per route, read by /metrics at scrape time; the request path bumps a field. */
export class IntrospectionStats {
  private readonly byRoute = new Map<string, IntrospectionCounts>();

  of(route: string): IntrospectionCounts {
    let counts = this.byRoute.get(route);
    if (counts === undefined) {
      counts = { cached: 0, requested: 0, active: 0, inactive: 0, refused: 0, servedVerified: 0 };
      this.byRoute.set(route, counts);
    }
    return counts;
  }

  entries(): IterableIterator<[string, IntrospectionCounts]> {
    return this.byRoute.entries();
  }
}
