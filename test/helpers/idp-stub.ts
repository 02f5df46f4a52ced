import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

/**
 * How the IdP answers key-set requests: `ok`; `down` (connection reset); `garbage` (200, not
 * JSON); `not-a-set` (200, JSON without keys); `huge` (200, a body of `hugeBytes` streamed
 * without Content-Length); `slow` (answers after `slowMs`); `error` (HTTP 500).
 */
export type IdpMode = 'ok' | 'down' | 'garbage' | 'not-a-set' | 'huge' | 'slow' | 'error';

export interface IdpStub {
  readonly url: string;
  readonly discoveryUrl: string;
  readonly jwksUrl: string;
  /** The published keys; replace or edit to rotate. */
  keys: JWK[];
  /** The `issuer` the discovery document names. */
  issuer: string;
  mode: IdpMode;
  slowMs: number;
  hugeBytes: number;
  cacheControl: string | undefined;
  readonly requests: { discovery: number; jwks: number };
  /** JWKS requests that arrived while held and have not been answered yet. */
  readonly waiting: number;
  /** Holds every JWKS answer until the returned function is called. */
  hold(): () => void;
  close(): Promise<void>;
}

/** A real identity provider on a loopback port: a discovery document and a JWKS, with switches. */
export async function startIdpStub(issuer: string, keys: JWK[] = []): Promise<IdpStub> {
  let gate: Promise<void> | undefined;
  let waiting = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://idp').pathname;
    if (path === '/.well-known/openid-configuration') {
      stub.requests.discovery += 1;
      void answer(res, { issuer: stub.issuer, jwks_uri: stub.jwksUrl });
      return;
    }
    if (path === '/keys') {
      stub.requests.jwks += 1;
      const held = gate;
      if (held === undefined) {
        void answer(res, { keys: stub.keys });
        return;
      }
      waiting += 1;
      void held.then(() => {
        waiting -= 1;
        return answer(res, { keys: stub.keys });
      });
      return;
    }
    res.writeHead(404).end();
  });

  async function answer(res: ServerResponse, doc: unknown): Promise<void> {
    switch (stub.mode) {
      case 'down':
        res.socket?.destroy();
        return;
      case 'error':
        res.writeHead(500).end('oops');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>maintenance</html>');
        return;
      case 'not-a-set':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"kids":[]}');
        return;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = stub.hugeBytes;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left -= chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
        return;
      }
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, stub.slowMs).unref());
        break;
      default:
        break;
    }
    if (res.destroyed) return;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (stub.cacheControl !== undefined) headers['cache-control'] = stub.cacheControl;
    res.writeHead(200, headers).end(JSON.stringify(doc));
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stub: IdpStub = {
    url,
    discoveryUrl: `${url}/.well-known/openid-configuration`,
    jwksUrl: `${url}/keys`,
    keys,
    issuer,
    mode: 'ok',
    slowMs: 2000,
    hugeBytes: 4 * 1024 * 1024,
    cacheControl: undefined,
    requests: { discovery: 0, jwks: 0 },
    get waiting() {
      return waiting;
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}
