import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { isSafeKeyUrl } from '../../config/schema.js';
import { fetchJson } from '../../keys/fetch-json.js';
import type { ClientCredentials } from './client-credentials.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { IntrospectionUnavailable } from './introspection-unavailable.js';
import { type IntrospectionAnswer, IntrospectionClient } from './post-introspection.js';

/** An answer as the cache keeps it. */
export interface CachedAnswer {
  readonly answer: IntrospectionAnswer;
  /** Epoch ms it was fetched; each route judges its freshness by its own cacheSeconds. */
  readonly fetchedAt: number;
  /** Epoch ms after which nobody may use it: the token's exp, the answer's exp, the longest cacheSeconds. */
  readonly expiresAt: number;
}

export interface EndpointSettings {
  /** The configured endpoint, or where to find it: the issuer's discovery document. */
  readonly endpoint: string | undefined;
  readonly discovery: { readonly url: string; readonly issuer: string } | undefined;
  readonly credentials: ClientCredentials;
  readonly maxConcurrent: number;
  readonly maxResponseBytes: number;
  readonly cacheEntries: number;
  /** The longest cacheSeconds of the routes sharing this endpoint, in ms. */
  readonly maxCacheMs: number;
  readonly clock: () => number;
  readonly logger?: Logger | undefined;
  /** For log lines: which routes use it. */
  readonly name: string;
}

// A discovery document that could not be read is asked for again after this long, not per request.
const DISCOVERY_RETRY_MS = 5000;
const DISCOVERY_TIMEOUT_MS = 5000;
const DISCOVERY_MAX_BYTES = 256 * 1024;

/**
 * One introspection endpoint with one client identity, shared by every route that uses them: its
 * connection pool, its concurrency bound, its answer cache (per token: a SHA-256 of it, never
 * the token) and its one request in flight per token.
 */
export class IntrospectionEndpoint {
  private client: IntrospectionClient | undefined;
  private resolving: Promise<IntrospectionClient> | undefined;
  private discoveryFailedAt: number | undefined;
  private discoveryError: string | undefined;
  private readonly cache: LRUCache<string, CachedAnswer>;
  private readonly inFlight = new Map<string, Promise<CachedAnswer>>();
  private readonly limit: ConcurrencyLimit;
  private failing = false;

  constructor(private readonly settings: EndpointSettings) {
    this.cache = new LRUCache({ max: settings.cacheEntries });
    this.limit = new ConcurrencyLimit(settings.maxConcurrent, settings.maxConcurrent * 8);
  }

  /** A cached answer younger than `maxAgeMs` and not past its end, if any. */
  cached(key: string, maxAgeMs: number): CachedAnswer | undefined {
    const entry = this.cache.get(key);
    if (entry === undefined) return undefined;
    const now = this.settings.clock();
    if (now >= entry.expiresAt) {
      this.cache.delete(key);
      return undefined;
    }
    return now - entry.fetchedAt < maxAgeMs ? entry : undefined;
  }

  /**
   * Asks the endpoint about `token`, or joins the request already in flight for it. The answer
   * is cached until the earliest of the token's `exp` (`tokenExpMs`), the answer's own `exp` and
   * the longest cacheSeconds; an unavailable endpoint is never cached. `onRequest` counts the
   * requests actually sent.
   */
  fetch(
    key: string,
    token: string,
    tokenExpMs: number,
    timeoutMs: number,
    onRequest: () => void,
  ): Promise<CachedAnswer> {
    const joined = this.inFlight.get(key);
    if (joined !== undefined) return joined;
    const deadline = performance.now() + timeoutMs;
    const run = (async () => {
      const client = await this.resolve();
      onRequest();
      const answer = await this.limit.run(
        () => client.introspect(token, { deadline, maxResponseBytes: this.settings.maxResponseBytes }),
        deadline,
      );
      const fetchedAt = this.settings.clock();
      const expiresAt = Math.min(
        fetchedAt + this.settings.maxCacheMs,
        tokenExpMs,
        answer.exp === undefined ? Number.POSITIVE_INFINITY : answer.exp * 1000,
      );
      const entry = { answer, fetchedAt, expiresAt };
      if (expiresAt > fetchedAt && this.settings.maxCacheMs > 0) this.cache.set(key, entry);
      return entry;
    })();
    const tracked = run.then(
      (entry) => {
        this.recovered();
        return entry;
      },
      (err: unknown) => {
        if (err instanceof IntrospectionUnavailable) this.failed(err.message);
        throw err;
      },
    );
    const settled = tracked.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, settled);
    return settled;
  }

  /** Requests waiting for a slot or in flight: what the concurrency bound holds. */
  get load(): { active: number; queued: number } {
    return { active: this.limit.active, queued: this.limit.queued };
  }

  close(): Promise<void> {
    return this.client?.close() ?? Promise.resolve();
  }

  private resolve(): Promise<IntrospectionClient> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    const { endpoint, discovery, credentials, maxConcurrent } = this.settings;
    if (endpoint !== undefined) {
      this.client = new IntrospectionClient(endpoint, credentials, maxConcurrent);
      return Promise.resolve(this.client);
    }
    const now = this.settings.clock();
    if (this.discoveryFailedAt !== undefined && now - this.discoveryFailedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(new IntrospectionUnavailable(`endpoint unknown: ${this.discoveryError}`));
    }
    this.resolving ??= this.discover(discovery!)
      .then((url) => {
        this.client = new IntrospectionClient(url, credentials, maxConcurrent);
        this.settings.logger?.info(
          { event: 'introspection.endpoint', endpoint: url, routes: this.settings.name },
          `introspection endpoint ${url} found in the discovery document`,
        );
        return this.client;
      })
      .catch((err: unknown) => {
        this.discoveryFailedAt = this.settings.clock();
        this.discoveryError = (err as Error).message;
        throw new IntrospectionUnavailable(`endpoint unknown: ${this.discoveryError}`);
      })
      .finally(() => {
        this.resolving = undefined;
      });
    return this.resolving;
  }

  private async discover(discovery: { url: string; issuer: string }): Promise<string> {
    const { body } = await fetchJson(discovery.url, {
      timeoutMs: DISCOVERY_TIMEOUT_MS,
      maxBytes: DISCOVERY_MAX_BYTES,
    });
    const doc = (body ?? {}) as { issuer?: unknown; introspection_endpoint?: unknown };
    if (doc.issuer !== discovery.issuer) {
      throw new Error(`${discovery.url} names issuer ${JSON.stringify(doc.issuer)}, not ${discovery.issuer}`);
    }
    const url = doc.introspection_endpoint;
    if (typeof url !== 'string' || !URL.canParse(url)) {
      throw new Error(`${discovery.url} has no valid introspection_endpoint`);
    }
    if (!isSafeKeyUrl(url)) throw new Error(`introspection_endpoint ${url} is not https`);
    return url;
  }

  private failed(why: string): void {
    if (this.failing) return;
    this.failing = true;
    this.settings.logger?.warn(
      { event: 'introspection.unavailable', routes: this.settings.name, why },
      `introspection endpoint of ${this.settings.name} unavailable: ${why}`,
    );
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.settings.logger?.info(
      { event: 'introspection.recovered', routes: this.settings.name },
      `introspection endpoint of ${this.settings.name} answers again`,
    );
  }
}
