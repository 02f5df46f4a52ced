import { Agent, type IncomingHttpHeaders, request } from 'node:http';

// Kept-alive sockets are pooled per host, port and local address, so every address keeps its own.
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

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
): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        localAddress,
        agent,
        headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Closes the pooled sockets so that the test process can exit. */
export function closeClients(): void {
  agent.destroy();
}
