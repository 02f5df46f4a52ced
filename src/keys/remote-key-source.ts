import { isSafeKeyUrl } from '../config/schema.js';
import { type FetchedJson, type FetchLimits, fetchJson, KeyFetchError } from './fetch-json.js';

export interface RemoteKeySourceOptions {
  readonly kind: 'url' | 'discovery';
  /** The configured URL: a JWKS, or an OpenID Connect discovery document. */
  readonly location: string;
  /** The configured `issuer` (the template, for a multi-tenant issuer). */
  readonly issuer: string;
  readonly limits: FetchLimits;
}

/**
 * The discovery document names another issuer: the URL is wrong or the document is not the
 * provider's. Either way its keys must not speak for this issuer. A load error at startup.
 */
export class DiscoveryMismatchError extends KeyFetchError {
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryMismatchError';
  }
}

/** Where one issuer's published keys are read from. Only configured URLs are ever fetched. */
export class RemoteKeySource {
  private jwksUri: string | undefined;

  constructor(readonly options: RemoteKeySourceOptions) {
    if (options.kind === 'url') this.jwksUri = options.location;
  }

  /** For /readyz and check-config. */
  get description(): string {
    const { kind, location } = this.options;
    if (kind === 'url') return `url ${location}`;
    return `discovery ${location}${this.jwksUri === undefined ? '' : ` (jwks_uri ${this.jwksUri})`}`;
  }

  /**
   * The current key set document. `rediscover` re-reads the discovery document first (scheduled
   * refreshes do; an unknown-kid refetch reuses the jwks_uri it already knows, costing one request).
   */
  async fetchKeySet(rediscover: boolean): Promise<FetchedJson> {
    if (this.options.kind === 'discovery' && (rediscover || this.jwksUri === undefined)) {
      this.jwksUri = await this.discover();
    }
    return fetchJson(this.jwksUri!, this.options.limits);
  }

  private async discover(): Promise<string> {
    const { location, issuer, limits } = this.options;
    const { body } = await fetchJson(location, limits);
    const doc = (body ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 section 4.3: the issuer must be exactly the one configured.
    if (doc.issuer !== issuer) {
      throw new DiscoveryMismatchError(
        `${location}: discovery document names issuer ${JSON.stringify(doc.issuer)}, not the configured ${issuer}`,
      );
    }
    if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) {
      throw new KeyFetchError(`${location}: discovery document has no valid jwks_uri`);
    }
    if (!isSafeKeyUrl(doc.jwks_uri)) {
      throw new KeyFetchError(`${location}: jwks_uri ${doc.jwks_uri} is not https`);
    }
    return doc.jwks_uri;
  }
}
