import { Pool } from 'undici';
import type { ClientCredentials } from './client-credentials.js';
import { IntrospectionUnavailable } from './introspection-unavailable.js';

/** What an introspection answer says that the gateway reads (RFC 7662 section 2.2). */
export interface IntrospectionAnswer {
  readonly active: boolean;
  readonly sub: unknown;
  readonly iss: unknown;
  readonly jti: unknown;
  /** Epoch seconds, when the answer gives one. */
  readonly exp: number | undefined;
}

export interface ExchangeLimits {
  /** performance.now() ms by which the whole exchange (body included) must be over. */
  readonly deadline: number;
  readonly maxResponseBytes: number;
}

/**
 * One POST to one introspection endpoint, over a keep-alive pool of its own. Every way it can go
 * wrong that says nothing about the token (unreachable, time-out, a status other than 200, a body
 * that is not a JSON object with a boolean `active`, a body past `maxResponseBytes`) rejects with
 * IntrospectionUnavailable; the message names the fault, never the token or the credentials.
 */
export class IntrospectionClient {
  private readonly pool: Pool;
  private readonly path: string;

  constructor(
    readonly endpoint: string,
    private readonly credentials: ClientCredentials,
    connections: number,
  ) {
    const url = new URL(endpoint);
    this.path = `${url.pathname}${url.search}`;
    this.pool = new Pool(url.origin, { connections, keepAliveTimeout: 10_000, pipelining: 1 });
  }

  async introspect(token: string, limits: ExchangeLimits): Promise<IntrospectionAnswer> {
    const left = limits.deadline - performance.now();
    if (left <= 0) throw new IntrospectionUnavailable('no time left for the exchange');
    const { authorization, form } = await this.credentials.forRequest(this.endpoint);
    // RFC 7662 section 2.1; the hint keeps a refresh token from passing for an access token.
    const body = new URLSearchParams({ token, token_type_hint: 'access_token', ...form }).toString();
    const signal = AbortSignal.timeout(Math.ceil(left));
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body,
        signal,
        headersTimeout: Math.ceil(left),
        bodyTimeout: Math.ceil(left),
      });
    } catch (err) {
      throw new IntrospectionUnavailable(signal.aborted ? 'no answer within the time-out' : describe(err));
    }
    const text = await readBounded(response, limits.maxResponseBytes, signal);
    if (response.statusCode !== 200) {
      // 401/403: the endpoint refused our credentials (RFC 7662 section 2.3): a configuration fault.
      throw new IntrospectionUnavailable(`HTTP ${response.statusCode}`);
    }
    const type = String(response.headers['content-type'] ?? '');
    if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
      throw new IntrospectionUnavailable(
        `answer is ${type === '' ? 'without a content type' : type}, not JSON`,
      );
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new IntrospectionUnavailable('answer is not JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new IntrospectionUnavailable('answer is not a JSON object');
    }
    const answer = doc as Record<string, unknown>;
    if (typeof answer.active !== 'boolean')
      throw new IntrospectionUnavailable('answer has no boolean "active"');
    return {
      active: answer.active,
      sub: answer.sub,
      iss: answer.iss,
      jti: answer.jti,
      exp: typeof answer.exp === 'number' && Number.isFinite(answer.exp) ? answer.exp : undefined,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function readBounded(
  response: Awaited<ReturnType<Pool['request']>>,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string> {
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) {
    response.body.destroy();
    throw new IntrospectionUnavailable(`answer larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        response.body.destroy();
        throw new IntrospectionUnavailable(`answer larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof IntrospectionUnavailable) throw err;
    throw new IntrospectionUnavailable(
      signal.aborted ? 'answer not complete within the time-out' : describe(err),
    );
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function describe(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code !== undefined ? `unreachable (${code})` : ((err as Error).message ?? String(err));
}
