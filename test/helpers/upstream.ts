import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

export interface Upstream {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A real HTTP upstream on a loopback port that records what reached it. Paths:
 * `/.../slow?ms=N` answers after N ms; `/.../big?bytes=N` streams N bytes; anything else
 * answers 200 with a JSON echo of method, url and the x-auth-* headers it received.
 */
export async function startUpstream(): Promise<Upstream> {
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
      if (url.pathname.endsWith('/slow')) {
        setTimeout(() => res.end('{"slow":true}'), Number(url.searchParams.get('ms') ?? 1000)).unref();
        return;
      }
      if (url.pathname.endsWith('/big')) {
        let left = Number(url.searchParams.get('bytes') ?? 0);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
        const chunk = Buffer.alloc(64 * 1024, 120);
        const pump = () => {
          while (left > 0) {
            const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      const auth = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-auth-')));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, auth, bodyBytes }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
