import { isSafeKeyUrl, type OidcConfig } from '../config/schema.js';
import { fetchJson, KeyFetchError, readBoundedText } from '../keys/fetch-json.js';

/** What the discovery document says about where to send the browser and the code. */
export interface OidcEndpoints {
  readonly authorization: string;
  readonly token: string;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post';
}

/** The identity provider did not give a usable answer; the message is for the operator. */
export class OidcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OidcError';
  }
}

const TIMEOUT_MS = 5000;
const MAX_BYTES = 64 * 1024;
const DISCOVERY_TTL_MS = 3600_000;

/**
 * The relying-party half of the authorization-code flow with PKCE, on fetch and node:crypto.
 * Verifying the ID token is not done here: the caller hands it to the gateway's own pipeline,
 * so that it is checked against the operators issuer's key set exactly like an operator token.
 */
export class OidcClient {
  private endpoints: Promise<OidcEndpoints> | undefined;
  private fetchedAt = 0;

  constructor(
    readonly config: OidcConfig,
    /** The operators issuer's `iss`: the discovery document must name exactly it. */
    private readonly expectedIssuer: string,
  ) {}

  /** The discovery document's endpoints, fetched once an hour; a failure is retried next time. */
  discover(nowMs: number): Promise<OidcEndpoints> {
    if (this.endpoints === undefined || nowMs - this.fetchedAt > DISCOVERY_TTL_MS) {
      this.fetchedAt = nowMs;
      const pending = this.fetchEndpoints();
      pending.catch(() => {
        if (this.endpoints === pending) this.endpoints = undefined;
      });
      this.endpoints = pending;
    }
    return this.endpoints;
  }

  authorizationUrl(
    endpoints: OidcEndpoints,
    flow: { state: string; nonce: string; codeChallenge: string },
  ): string {
    const url = new URL(endpoints.authorization);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.config.clientId);
    url.searchParams.set('redirect_uri', this.config.redirectUrl);
    url.searchParams.set('scope', this.config.scopes.join(' '));
    url.searchParams.set('state', flow.state);
    url.searchParams.set('nonce', flow.nonce);
    url.searchParams.set('code_challenge', flow.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  /** Trades the code for the ID token at the token endpoint (RFC 6749 4.1.3, RFC 7636 4.5). */
  async exchange(endpoints: OidcEndpoints, code: string, codeVerifier: string): Promise<string> {
    const { clientId, clientSecret, redirectUrl } = this.config;
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUrl,
      code_verifier: codeVerifier,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (endpoints.authMethod === 'client_secret_basic') {
      // RFC 6749 2.3.1: each part form-encoded before the Basic encoding.
      const user = encodeURIComponent(clientId);
      const pass = encodeURIComponent(clientSecret);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    }
    let response: Response;
    try {
      response = await fetch(endpoints.token, {
        method: 'POST',
        headers,
        body: form.toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new OidcError(`token endpoint unreachable: ${(err as Error).message}`);
    }
    const text = await readBounded(response);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new OidcError(`token endpoint answered ${response.status} without JSON`);
    }
    if (!response.ok || typeof body.id_token !== 'string') {
      const error = typeof body.error === 'string' ? body.error.slice(0, 64) : `HTTP ${response.status}`;
      throw new OidcError(`token endpoint refused the code: ${error}`);
    }
    return body.id_token;
  }

  private async fetchEndpoints(): Promise<OidcEndpoints> {
    let doc: Record<string, unknown>;
    try {
      doc = (await fetchJson(this.config.discovery, { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES }))
        .body as Record<string, unknown>;
    } catch (err) {
      throw new OidcError(err instanceof KeyFetchError ? err.message : String(err));
    }
    if (doc === null || typeof doc !== 'object') throw new OidcError('discovery document is not an object');
    if (doc.issuer !== this.expectedIssuer) {
      throw new OidcError(
        `discovery document names issuer ${String(doc.issuer)}, not ${this.expectedIssuer}`,
      );
    }
    const authorization = endpoint(doc, 'authorization_endpoint');
    const token = endpoint(doc, 'token_endpoint');
    const methods = doc.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes('S256'))
      throw new OidcError('the identity provider does not support PKCE with S256');
    const auth = doc.token_endpoint_auth_methods_supported;
    // RFC 8414: client_secret_basic is the default when the provider lists nothing.
    const authMethod =
      Array.isArray(auth) && !auth.includes('client_secret_basic') && auth.includes('client_secret_post')
        ? 'client_secret_post'
        : 'client_secret_basic';
    return { authorization, token, authMethod };
  }
}

function endpoint(doc: Record<string, unknown>, name: string): string {
  const value = doc[name];
  if (typeof value !== 'string') throw new OidcError(`discovery document has no ${name}`);
  let safe = false;
  try {
    safe = isSafeKeyUrl(value);
  } catch {
    safe = false;
  }
  if (!safe) throw new OidcError(`${name} must be https (plain http only for a loopback host)`);
  return value;
}

function readBounded(response: Response): Promise<string> {
  return readBoundedText(
    response,
    MAX_BYTES,
    () => new OidcError(`token endpoint answer larger than ${MAX_BYTES} bytes`),
  );
}
