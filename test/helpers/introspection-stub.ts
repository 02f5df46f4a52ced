import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

/**
 * How the stub's introspection endpoint answers: `active` (RFC 7662: the token's own sub, iss,
 * jti and exp, read from its payload); `inactive` (`{"active":false}`); `other-sub` (active, for
 * another subject); `slow` (active after `slowMs`); `down` (connection reset); `garbage` (200,
 * JSON content type, not JSON); `html` (200, an HTML page); `error` (500); `huge` (200 JSON
 * content type, `hugeBytes` streamed without Content-Length); `no-active` (`{}`).
 */
export type IntrospectionMode =
  | 'active'
  | 'inactive'
  | 'other-sub'
  | 'slow'
  | 'down'
  | 'garbage'
  | 'html'
  | 'error'
  | 'huge'
  | 'no-active';

export interface IntrospectionStub {
  readonly url: string;
  readonly endpoint: string;
  readonly discoveryUrl: string;
  readonly jwksUrl: string;
  issuer: string;
  keys: JWK[];
  mode: IntrospectionMode;
  slowMs: number;
  hugeBytes: number;
  /** The client this endpoint accepts (client_secret_basic), else 401 invalid_client. */
  client: { id: string; secret: string };
  /** Every introspection request: what it sent (form and how it authenticated). */
  readonly received: { form: Record<string, string>; authorization: string | undefined }[];
  /** Requests per token, and the most that were in flight at once. */
  readonly perToken: Map<string, number>;
  readonly stats: { requests: number; inFlight: number; maxInFlight: number; discovery: number };
  close(): Promise<void>;
}

/** A real identity provider on a loopback port: discovery, a JWKS and an RFC 7662 endpoint, with switches. */
export async function startIntrospectionStub(issuer: string, keys: JWK[] = []): Promise<IntrospectionStub> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://idp').pathname;
    if (path === '/.well-known/openid-configuration') {
      stub.stats.discovery += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          issuer: stub.issuer,
          jwks_uri: stub.jwksUrl,
          introspection_endpoint: stub.endpoint,
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
        }),
      );
      return;
    }
    if (path === '/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: stub.keys }));
      return;
    }
    if (path === '/introspect' && req.method === 'POST') {
      void introspect(req, res);
      return;
    }
    res.writeHead(404).end();
  });

  async function introspect(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const authorization = req.headers.authorization;
    stub.received.push({ form, authorization });
    stub.stats.requests += 1;
    const token = form.token ?? '';
    stub.perToken.set(token, (stub.perToken.get(token) ?? 0) + 1);
    stub.stats.inFlight += 1;
    stub.stats.maxInFlight = Math.max(stub.stats.maxInFlight, stub.stats.inFlight);
    res.on('close', () => {
      stub.stats.inFlight -= 1;
    });
    if (!clientAuthenticated(authorization, form)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return;
    }
    const json = (doc: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    };
    const claims = payloadOf(token);
    const active = {
      active: true,
      sub: claims.sub,
      iss: claims.iss,
      jti: claims.jti,
      exp: claims.exp,
      scope: claims.scp,
    };
    switch (stub.mode) {
      case 'active':
        return json(active);
      case 'inactive':
        return json({ active: false });
      case 'other-sub':
        return json({ ...active, sub: 'mallory' });
      case 'no-active':
        return json({ sub: claims.sub });
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, stub.slowMs).unref());
        if (!res.destroyed) json(active);
        return;
      case 'down':
        res.socket?.destroy();
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"active": tru');
        return;
      case 'html':
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body>Service Unavailable</body></html>');
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
        return;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = stub.hugeBytes;
        res.on('error', () => {});
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
        pump();
        return;
      }
    }
  }

  function clientAuthenticated(authorization: string | undefined, form: Record<string, string>): boolean {
    if (form.client_assertion !== undefined) {
      // private_key_jwt: the stub only checks its shape and that it names the client.
      const claims = payloadOf(form.client_assertion);
      return (
        form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
        claims.iss === stub.client.id &&
        claims.sub === stub.client.id &&
        claims.aud === stub.endpoint
      );
    }
    const basic = /^Basic (.+)$/.exec(authorization ?? '');
    if (!basic) return false;
    const [id, secret] = Buffer.from(basic[1]!, 'base64')
      .toString('utf8')
      .split(':')
      .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
    return id === stub.client.id && secret === stub.client.secret;
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stub: IntrospectionStub = {
    url,
    endpoint: `${url}/introspect`,
    discoveryUrl: `${url}/.well-known/openid-configuration`,
    jwksUrl: `${url}/keys`,
    issuer,
    keys,
    mode: 'active',
    slowMs: 3000,
    hugeBytes: 10 * 1024 * 1024,
    client: { id: 'provgate', secret: 'stub-secret with spaces & symbols:+/' },
    received: [],
    perToken: new Map(),
    stats: { requests: 0, inFlight: 0, maxInFlight: 0, discovery: 0 },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}

function payloadOf(jwt: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
