/** What an identity provider answered, with how long it said the answer may be kept. */
export interface FetchedJson {
  readonly body: unknown;
  /** Cache-Control max-age in seconds (0 for no-store / no-cache); undefined when not given. */
  readonly maxAgeSeconds: number | undefined;
}

export interface FetchLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** A failed fetch, described for the operator (log, /readyz, check-config). */
export class KeyFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFetchError';
  }
}

/**
 * GETs a JSON document from a configured URL, never one a token names. Bounded in time (the
 * abort signal covers headers and body) and in size (the body is read as a stream and dropped
 * past maxBytes, whatever Content-Length claimed), so a slow or hostile IdP cannot hold startup
 * or memory. Redirects are not followed: the operator configured this URL, not another.
 */
export async function fetchJson(url: string, limits: FetchLimits): Promise<FetchedJson> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const response = await fetch(url, {
      signal,
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new KeyFetchError(`${url}: HTTP ${response.status}`);
    }
    const text = await readLimited(response, limits.maxBytes, url);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new KeyFetchError(`${url}: answer is not JSON`);
    }
    return { body, maxAgeSeconds: maxAgeOf(response.headers.get('cache-control')) };
  } catch (err) {
    if (err instanceof KeyFetchError) throw err;
    if (signal.aborted) throw new KeyFetchError(`${url}: no complete answer within ${limits.timeoutMs} ms`);
    throw new KeyFetchError(`${url}: ${describeNetworkError(err)}`);
  }
}

async function readLimited(response: Response, maxBytes: number, url: string): Promise<string> {
  const tooBig = () => new KeyFetchError(`${url}: answer larger than ${maxBytes} bytes`);
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooBig();
  }
  return readBoundedText(response, maxBytes, tooBig);
}

/**
 * A response body as UTF-8, read chunk by chunk and given up (the stream cancelled, `tooBig()`
 * thrown) the moment it passes `maxBytes`: an answer's declared length is not to be believed.
 */
export async function readBoundedText(
  response: Response,
  maxBytes: number,
  tooBig: () => Error,
): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** max-age from Cache-Control; no-store and no-cache mean "ask again soon" (0). */
export function maxAgeOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  let maxAge: number | undefined;
  for (const directive of header.toLowerCase().split(',')) {
    const [name, value] = directive.trim().split('=', 2);
    if (name === 'no-store' || name === 'no-cache') return 0;
    if (name === 'max-age' && value !== undefined && /^\d+$/.test(value.trim())) {
      maxAge = Number(value.trim());
    }
  }
  return maxAge;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined) return `unreachable (${cause.code})`;
  if (cause?.message !== undefined) return cause.message;
  return (err as Error).message ?? String(err);
}
