// How the tests talk HTTP to a gateway: fetch for most calls, node:http where a call needs a
// chosen client address or a kept-alive pool, and raw bytes on a socket for what fetch would
// normalise away. All three read a body the same way.
import { Agent, type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';

/** The JSON a body holds, or `{ text }` when it is not JSON (an HTML error page, a plain string). */
export function bodyOf(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { text };
  }
}

/** The whole of a node:http response body as UTF-8 text. */
export function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

export interface FetchAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** A fetch of `url`, with `token` as the bearer; `init` may set the method, body and headers. */
export async function get(
  url: string,
  token?: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<FetchAnswer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { ...init, headers });
  return { status: res.status, headers: res.headers, body: bodyOf(await res.text()) };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

export interface HttpOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly agent?: Agent;
  /** The client address the socket binds (any of 127.0.0.0/8 on Linux). */
  readonly localAddress?: string;
  /** The request target exactly as written, where the URL parser would normalise it. */
  readonly path?: string;
}

/** One node:http request with no body: for a chosen client address or a kept-alive pool. */
export function httpRequest(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: options.path ?? target.pathname + target.search,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        readText(res).then(
          (text) => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: bodyOf(text) }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// Kept-alive sockets are pooled per host, port and local address, so every address keeps its own.
const clients = new Agent({ keepAlive: true, maxSockets: 16 });

/**
 * The n-th loopback client address, 127.0.1.n style: the whole of 127.0.0.0/8 is loopback on
 * Linux, so a client socket can bind any of them and the gateway sees a real, distinct address.
 */
export function loopback(n: number): string {
  return `127.0.${10 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}

/** GET `url` from a socket bound to `localAddress`, with a bearer token and extra headers. */
export function getFrom(
  localAddress: string,
  url: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return httpRequest(url, {
    localAddress,
    agent: clients,
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
  });
}

/** Closes the sockets `getFrom` pooled, so that the test process can exit. */
export function closeClients(): void {
  clients.destroy();
}

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; a repeated header keeps every value. */
  readonly headers: Record<string, string[]>;
  readonly text: string;
  readonly body: Record<string, unknown>;
}

/**
 * One HTTP/1.1 request written byte for byte on a fresh socket. fetch merges repeated headers
 * and normalises `..` out of paths; the cases that test exactly those need the raw form.
 */
export function rawRequest(
  baseUrl: string,
  target: string,
  headerLines: readonly string[],
  method = 'GET',
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const head = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    ...headerLines,
    'Connection: close',
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseRaw(Buffer.concat(chunks).toString('latin1')));
      } catch (err) {
        reject(err);
      }
    });
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

function parseRaw(raw: string): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`no complete response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
  const status = Number(statusLine!.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers[name] ?? [];
    values.push(line.slice(colon + 1).trim());
    headers[name] = values;
  }
  let text = raw.slice(split + 4);
  if (headers['transfer-encoding']?.[0]?.toLowerCase() === 'chunked') text = unchunk(text);
  return { status, headers, text, body: bodyOf(text) };
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
