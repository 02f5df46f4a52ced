import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK, JWTPayload } from 'jose';
import { mintToken } from '../../src/demo/dev-keys.js';

/**
 * How the IdP answers key-set requests: `ok`; `down` (connection reset); `garbage` (200, not
 * JSON); `not-a-set` (200, JSON without keys); `huge` (200, a body of `hugeBytes` streamed
 * without Content-Length); `slow` (answers after `slowMs`); `error` (HTTP 500).
 */
export type IdpMode = 'ok' | 'down' | 'garbage' | 'not-a-set' | 'huge' | 'slow' | 'error';

/**
 * The OpenID Connect provider half of the stub (authorization-code flow with PKCE): one client,
 * the users who may sign in (by name, with the claims their ID token carries) and the key that
 * signs ID tokens. Unset, /authorize and /token answer 404.
 */
export interface OidcStubSettings {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** Private JWK (with kid and alg) of a key in the stub's published set. */
  signingKey: JWK;
  users: Record<string, JWTPayload>;
  /** Seconds an ID token lives; default 300. */
  idTokenTtlSeconds?: number;
  /** Edits an ID token's claims before signing: for an IdP that misbehaves. */
  tamper?: (claims: JWTPayload) => JWTPayload;
}

export interface IdpStub {
  readonly url: string;
  readonly discoveryUrl: string;
  readonly jwksUrl: string;
  readonly authorizationUrl: string;
  readonly tokenUrl: string;
  oidc: OidcStubSettings | undefined;
  /** The query of each /authorize request, in order (what the relying party asked for). */
  readonly authorizations: Record<string, string>[];
  /** Each /token request's form and how the stub answered it. */
  readonly tokenRequests: { form: Record<string, string>; status: number; error?: string }[];
  /** The published keys; replace or edit to rotate. */
  keys: JWK[];
  /** The `issuer` the discovery document names. */
  issuer: string;
  mode: IdpMode;
  slowMs: number;
  hugeBytes: number;
  cacheControl: string | undefined;
  readonly requests: { discovery: number; jwks: number; authorize: number; token: number };
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
      void answer(res, {
        issuer: stub.issuer,
        jwks_uri: stub.jwksUrl,
        authorization_endpoint: stub.authorizationUrl,
        token_endpoint: stub.tokenUrl,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      });
      return;
    }
    if (path === '/authorize' && stub.oidc !== undefined) {
      void authorize(req, res, stub.oidc);
      return;
    }
    if (path === '/token' && req.method === 'POST' && stub.oidc !== undefined) {
      void token(req, res, stub.oidc);
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

  // code -> what the browser's sign-in asked for, redeemable once.
  const codes = new Map<string, { user: string; query: Record<string, string> }>();

  /** GET: a sign-in form (the user types a name); POST: the form, answered with a redirect and a code. */
  async function authorize(req: IncomingMessage, res: ServerResponse, oidc: OidcStubSettings): Promise<void> {
    stub.requests.authorize += 1;
    const query =
      req.method === 'POST'
        ? Object.fromEntries(new URLSearchParams(await readBody(req)))
        : Object.fromEntries(new URL(req.url ?? '/', 'http://idp').searchParams);
    if (req.method !== 'POST') stub.authorizations.push(query);
    const redirect = query.redirect_uri ?? '';
    if (query.client_id !== oidc.clientId || !oidc.redirectUris.includes(redirect)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown client or redirect_uri');
      return;
    }
    const back = new URL(redirect);
    if (query.state !== undefined) back.searchParams.set('state', query.state);
    if (query.response_type !== 'code' || query.code_challenge_method !== 'S256' || !query.code_challenge) {
      back.searchParams.set('error', 'invalid_request');
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method !== 'POST') {
      const hidden = Object.entries(query)
        .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
        .join('');
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          `<!doctype html><title>Stub IdP</title><link rel="icon" href="data:,"><form method="post" action="/authorize">${hidden}` +
            '<label for="username">User</label><input id="username" name="username">' +
            '<button type="submit" id="idp-submit">Sign in</button></form>',
        );
      return;
    }
    const user = query.username ?? '';
    if (oidc.users[user] === undefined) {
      back.searchParams.set('error', 'access_denied');
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    const code = randomBytes(16).toString('base64url');
    const { username: _, ...asked } = query;
    codes.set(code, { user, query: asked });
    back.searchParams.set('code', code);
    res.writeHead(302, { location: back.toString() }).end();
  }

  async function token(req: IncomingMessage, res: ServerResponse, oidc: OidcStubSettings): Promise<void> {
    stub.requests.token += 1;
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const refuse = (status: number, error: string) => {
      stub.tokenRequests.push({ form, status, error });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
    };
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [id, secret] = basic
      ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').map(decodeURIComponent)
      : [form.client_id, form.client_secret];
    if (id !== oidc.clientId || secret !== oidc.clientSecret) return refuse(401, 'invalid_client');
    const grant = form.code === undefined ? undefined : codes.get(form.code);
    if (form.code !== undefined) codes.delete(form.code); // once only
    if (form.grant_type !== 'authorization_code' || grant === undefined) return refuse(400, 'invalid_grant');
    if (form.redirect_uri !== grant.query.redirect_uri) return refuse(400, 'invalid_grant');
    const challenge = createHash('sha256')
      .update(form.code_verifier ?? '')
      .digest('base64url');
    if (challenge !== grant.query.code_challenge) return refuse(400, 'invalid_grant');
    let claims: JWTPayload = {
      iss: stub.issuer,
      sub: grant.user,
      aud: oidc.clientId,
      ...(grant.query.nonce === undefined ? {} : { nonce: grant.query.nonce }),
      ...oidc.users[grant.user],
    };
    if (oidc.tamper !== undefined) claims = oidc.tamper(claims);
    const idToken = await mintToken(oidc.signingKey, claims, { ttlSeconds: oidc.idTokenTtlSeconds ?? 300 });
    stub.tokenRequests.push({ form, status: 200 });
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(
        JSON.stringify({ id_token: idToken, access_token: 'opaque-stub-access-token', token_type: 'Bearer' }),
      );
  }

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
    authorizationUrl: `${url}/authorize`,
    tokenUrl: `${url}/token`,
    oidc: undefined,
    authorizations: [],
    tokenRequests: [],
    keys,
    issuer,
    mode: 'ok',
    slowMs: 2000,
    hugeBytes: 4 * 1024 * 1024,
    cacheControl: undefined,
    requests: { discovery: 0, jwks: 0, authorize: 0, token: 0 },
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
