import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { decodeJwt, type JWK, type JWTPayload } from 'jose';
import { mintToken } from '../../src/demo/dev-keys.js';

/**
 * How the stub's token endpoint answers (`?mode=` on the request, default `ok`):
 * - `ok`: an ES256 access token of the resource issuer for the presented token's subject, no
 *   longer-lived than it, `Mail.Read` only, with a fresh jti; `with-refresh` adds a JWT
 *   refresh token and an id token of the same kind; `gzip` sends `ok` gzip-encoded;
 * - misbehaving mints: `longer` (exp an hour past the parent's), `subject` (sub mallory),
 *   `foreign` (signed with another issuer's key under its kid), `stray` (a key no issuer has),
 *   `no-jti`, `scopes` (a scope the parent lacks), `reuse-jti` (the same jti every time),
 *   `bad-refresh` (a good access token with a longer-lived JWT refresh token);
 * - bad answers: `not-json` (text/plain holding a token), `malformed` (access_token of three
 *   parts that are no JWS), `opaque` (access_token not a JWT), `big` (valid token padded past
 *   `bigBytes`, with Content-Length), `big-chunked` (the same without it), `no-token` (JSON
 *   without token members), `error` (400 invalid_grant), `broken-gzip`.
 * Every other path answers 200 with a JSON echo of the x-auth-* headers it received.
 */
export type MintMode =
  | 'ok'
  | 'with-refresh'
  | 'gzip'
  | 'longer'
  | 'subject'
  | 'foreign'
  | 'stray'
  | 'no-jti'
  | 'scopes'
  | 'reuse-jti'
  | 'bad-refresh'
  | 'not-json'
  | 'malformed'
  | 'opaque'
  | 'big'
  | 'big-chunked'
  | 'no-token'
  | 'error'
  | 'broken-gzip';

export interface MintingUpstreamKeys {
  readonly issuer: string;
  /** Private JWK (kid, alg ES256) of the resource issuer. */
  readonly key: JWK;
  /** Another issuer's private key, for `foreign`. */
  readonly foreignKey: JWK;
  /** A key no issuer publishes, for `stray`. */
  readonly strayKey: JWK;
  readonly audience: string;
}

export interface MintingUpstream {
  readonly url: string;
  /** Every token the endpoint minted, in order (the raw tokens: the test's to inspect). */
  readonly minted: string[];
  /** Requests other than the token endpoint's: what the resource API saw. */
  readonly seen: { url: string; subject: string | undefined; issuer: string | undefined }[];
  /** Answers of the token endpoint wait this long first (two mints in flight at once). */
  delayMs: number;
  bigBytes: number;
  close(): Promise<void>;
}

/** A resource API that mints tokens from the token it is shown, as OWA's GetAccessTokenForResource did. */
export async function startMintingUpstream(keys: MintingUpstreamKeys): Promise<MintingUpstream> {
  const minted: string[] = [];
  const seen: MintingUpstream['seen'] = [];
  const state = { delayMs: 0, bigBytes: 128 * 1024 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream');
      if (!url.pathname.startsWith('/api/token')) {
        seen.push({
          url: req.url ?? '/',
          subject: req.headers['x-auth-subject'] as string | undefined,
          issuer: req.headers['x-auth-issuer'] as string | undefined,
        });
        json(res, 200, { ok: true, subject: req.headers['x-auth-subject'] });
        return;
      }
      const mode = (url.searchParams.get('mode') ?? 'ok') as MintMode;
      setTimeout(() => {
        answer(req, res, mode, keys, state, minted).catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      }, state.delayMs).unref();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    minted,
    seen,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    get bigBytes() {
      return state.bigBytes;
    },
    set bigBytes(n: number) {
      state.bigBytes = n;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  mode: MintMode,
  keys: MintingUpstreamKeys,
  state: { bigBytes: number },
  minted: string[],
): Promise<void> {
  const presented = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  const parent = decodeJwt(presented);
  const now = Math.floor(Date.now() / 1000);
  const exp = Math.min(parent.exp ?? now + 600, now + 3600);
  const claims: JWTPayload = {
    iss: keys.issuer,
    sub: parent.sub,
    aud: keys.audience,
    scp: 'Mail.Read',
    iat: now,
    exp,
    ...(typeof parent.tid === 'string' ? { tid: parent.tid } : {}),
  };
  const sign = async (extra: JWTPayload = {}, key: JWK = keys.key, header?: Record<string, unknown>) => {
    const token = await mintToken(key, { ...claims, ...extra }, header === undefined ? {} : { header });
    minted.push(token);
    return token;
  };
  const tokenAnswer = (access: string, more: Record<string, unknown> = {}) => ({
    access_token: access,
    token_type: 'Bearer',
    expires_in: exp - now,
    ...more,
  });
  switch (mode) {
    case 'ok':
      return json(res, 200, tokenAnswer(await sign()));
    case 'with-refresh':
      return json(
        res,
        200,
        tokenAnswer(await sign(), { refresh_token: await sign(), id_token: await sign({ aud: 'client-1' }) }),
      );
    case 'gzip': {
      const body = gzipSync(JSON.stringify(tokenAnswer(await sign())));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(body);
      return;
    }
    case 'broken-gzip':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(Buffer.from('not gzip at all'));
      return;
    case 'longer':
      return json(res, 200, tokenAnswer(await sign({ exp: (parent.exp ?? now) + 3600 })));
    case 'subject':
      return json(res, 200, tokenAnswer(await sign({ sub: 'mallory' })));
    case 'foreign':
      return json(res, 200, tokenAnswer(await sign({}, keys.foreignKey, { alg: keys.foreignKey.alg })));
    case 'stray':
      return json(res, 200, tokenAnswer(await sign({}, keys.strayKey, { alg: keys.strayKey.alg })));
    case 'no-jti':
      return json(res, 200, tokenAnswer(await sign({ jti: undefined })));
    case 'scopes':
      return json(res, 200, tokenAnswer(await sign({ scp: 'Mail.Read Mail.ReadWrite.All' })));
    case 'reuse-jti':
      return json(res, 200, tokenAnswer(await sign({ jti: 'always-the-same' })));
    case 'bad-refresh':
      return json(
        res,
        200,
        tokenAnswer(await sign(), { refresh_token: await sign({ exp: (parent.exp ?? now) + 86_400 }) }),
      );
    case 'not-json': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`access_token=${await sign()}`);
      return;
    }
    case 'malformed':
      return json(res, 200, tokenAnswer('eyJhbGciOiJFUzI1NiJ9.bm90LWpzb24.c2ln'));
    case 'opaque':
      return json(res, 200, tokenAnswer('opaque-access-token-0123456789'));
    case 'big':
    case 'big-chunked': {
      const body = JSON.stringify(tokenAnswer(await sign(), { padding: 'x'.repeat(state.bigBytes) }));
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(mode === 'big' ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      });
      // In pieces, so that the gateway sees the limit crossed mid-body.
      const bytes = Buffer.from(body);
      for (let i = 0; i < bytes.length; i += 16 * 1024) res.write(bytes.subarray(i, i + 16 * 1024));
      res.end();
      return;
    }
    case 'no-token':
      return json(res, 200, { resource: keys.audience, note: 'nothing minted' });
    case 'error':
      return json(res, 400, { error: 'invalid_grant' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
