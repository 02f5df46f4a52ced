/** Where a provgate target publishes its Prometheus metrics, and the token that opens them. */
export interface MetricsEndpoint {
  readonly url: string;
  readonly token: string;
}

export interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
}

function counter(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  const value = line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(value) ? value : undefined;
}

/**
 * The verified-token cache's hit and miss counters, read from the admin /metrics. They prove
 * what a scenario claims to measure (a warm rotation hits, the cold one misses); a gateway
 * without the endpoint just yields undefined.
 */
export async function readCacheCounters(
  endpoint: MetricsEndpoint | undefined,
): Promise<CacheCounters | undefined> {
  if (endpoint === undefined) return undefined;
  try {
    const res = await fetch(endpoint.url, { headers: { authorization: `Bearer ${endpoint.token}` } });
    if (!res.ok) return undefined;
    const text = await res.text();
    const hits = counter(text, 'provgate_verified_token_cache_hits_total');
    const misses = counter(text, 'provgate_verified_token_cache_misses_total');
    return hits === undefined || misses === undefined ? undefined : { hits, misses };
  } catch {
    return undefined;
  }
}
