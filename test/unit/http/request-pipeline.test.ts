// The request pipeline apart from any server: the order of its steps (each pair of neighbours is
// made to disagree, and the earlier one must answer), what a refusal is described from, and the
// accepted path. Real verifier, real protection rules on the memory store, a fixed clock; the
// request is an IncomingMessage on an unconnected socket, so nothing here does I/O.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { before, describe, test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { configSchema } from '../../../src/config/schema.js';
import {
  Authorization,
  authorize,
  authorizeEventually,
  type PipelineDeps,
  type PipelineRuntime,
  refuse,
} from '../../../src/http/request-pipeline.js';
import type { KeyRefetcher } from '../../../src/keys/key-refetch.js';
import { createLogger } from '../../../src/observability/logger.js';
import { type RefusalEvent, SecurityEvents } from '../../../src/observability/security-events.js';
import { blockId } from '../../../src/protection/block-record.js';
import { compileProtection } from '../../../src/protection/compile-protection.js';
import { MemoryBlockStore } from '../../../src/protection/memory-block-store.js';
import { Protection } from '../../../src/protection/protection.js';
import { RouteMatcher } from '../../../src/proxy/match-route.js';
import { makeRecord } from '../../../src/revocation/revocation-record.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { ENTERPRISE_ISS } from '../../helpers/compiled-issuer.js';
import {
  compiledRoute,
  NOW_MS,
  NOW_S,
  type TokenFixture,
  tokenFixture,
} from '../../helpers/verified-token.js';

const CLIENT = '192.0.2.10';
const BLOCKED = '192.0.2.66';
const DENIED = '198.51.100.7';

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n'))
      if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

/** A request as Node's server hands it over, from `address`, with headers in arrival order. */
function request(url: string, headers: [string, string][] = [], address = CLIENT): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: address });
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = url;
  req.rawHeaders = headers.flat();
  for (const [name, value] of headers) req.headers[name.toLowerCase()] ??= value;
  return req;
}

const bearer = (token: string): [string, string][] => [['Authorization', `Bearer ${token}`]];

interface Harness {
  readonly runtime: PipelineRuntime;
  readonly deps: PipelineDeps;
  readonly protection: Protection;
  readonly refusals: RefusalEvent[];
  stale: boolean;
  /** The reason authorize() refuses with, or 'ok'. */
  verdict(req: IncomingMessage): string;
}

let tokens: TokenFixture;
let route: CompiledRoute;

before(async () => {
  tokens = await tokenFixture();
  route = compiledRoute({ scopes: ['Mail.Read'] });
});

/** Protection with a deny list, one blocked address and a limit of `limit` requests per subject. */
function harness(limit = 100): Harness {
  const logger = createLogger('info', new Lines());
  const config = configSchema.parse({
    issuers: {
      enterprise: {
        issuer: ENTERPRISE_ISS,
        role: 'identity-provider',
        keys: { file: 'unused' },
        algorithms: ['ES256'],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:9',
        audience: 'x',
        issuers: ['enterprise'],
      },
    ],
    protection: {
      denyNetworks: { cidrs: [`${DENIED}/32`] },
      rateLimits: [{ name: 'per-subject', key: 'subject', limit, windowSeconds: 60 }],
    },
  });
  const problems: string[] = [];
  const compiled = compileProtection(config.protection, '/', ['mail'], problems);
  assert.deepEqual(problems, []);
  const protection = new Protection(compiled!, {
    logger,
    clock: () => NOW_MS,
    blockStore: new MemoryBlockStore(),
    shared: undefined,
    resyncMs: 60_000,
    instance: 'test:1',
  });
  protection.blocks.block({
    id: blockId('address', BLOCKED),
    target: 'address',
    value: BLOCKED,
    rule: 'failure_burst',
    reason: 'blocked_source',
    at: new Date(NOW_MS).toISOString(),
    expiresAt: NOW_MS + 60_000,
    by: 'test:1',
    evidence: {},
  });
  const events = new SecurityEvents(logger);
  const refusals: RefusalEvent[] = [];
  events.onRefusal((event) => refusals.push(event));
  const h: Harness = {
    runtime: { matcher: new RouteMatcher([route]), verifier: tokens.verifier, protection },
    deps: {
      revocations: { isStale: () => h.stale, mirror: tokens.revocations },
      events,
      clock: () => NOW_MS,
      maxTokenBytes: 16_384,
    },
    protection,
    refusals,
    stale: false,
    verdict(req) {
      try {
        authorize(h.runtime, h.deps, req, req.url ?? '', false, new Authorization());
        return 'ok';
      } catch (err) {
        if (err instanceof AuthFailure) return err.reason;
        throw err;
      }
    },
  };
  return h;
}

function blockToken(h: Harness, fingerprint: string): void {
  h.protection.blocks.block({
    id: blockId('token', fingerprint),
    target: 'token',
    value: fingerprint,
    rule: 'token_replay',
    reason: 'token_blocked',
    at: new Date(NOW_MS).toISOString(),
    expiresAt: NOW_MS + 60_000,
    by: 'test:1',
    evidence: {},
  });
}

function revokeJti(jti: string): void {
  tokens.revocations.apply(
    makeRecord(
      { kind: 'token', issuer: 'enterprise', jti },
      { by: 'test', source: 'api', now: NOW_MS, clockSkewSeconds: 0 },
    ),
  );
}

describe('the steps run in their documented order', () => {
  test('source admission before route: a denied or blocked address is refused whatever its path', () => {
    const h = harness();
    assert.equal(h.verdict(request('/nowhere', [], DENIED)), 'blocked_network');
    assert.equal(h.verdict(request('/api/mail/../token', [], BLOCKED)), 'blocked_source');
  });

  test('route before staleness, staleness before the bearer', () => {
    const h = harness();
    h.stale = true;
    assert.equal(h.verdict(request('/nowhere')), 'no_route');
    assert.equal(h.verdict(request('/api/mail/inbox')), 'revocation_state_stale');
    h.stale = false;
    assert.equal(h.verdict(request('/api/mail/inbox')), 'missing_token');
  });

  test('bearer before verification: two Authorization headers, each a good token', async () => {
    const h = harness();
    const token = await tokens.sign({ scp: 'Mail.Read' });
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(token))), 'ok');
    assert.equal(
      h.verdict(request('/api/mail/inbox', [...bearer(token), ...bearer(token)])),
      'malformed_token',
    );
  });

  test('verification before provenance: a forgery for another audience is bad_signature', async () => {
    const h = harness();
    // The resource issuer's key, under the enterprise issuer's kid, for an audience this route refuses.
    const forged = await tokens.sign(
      { iss: ENTERPRISE_ISS, aud: 'https://files.example.test' },
      'owa',
      'ent-1',
    );
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(forged))), 'bad_signature');
  });

  test('provenance before revocations: a revoked token for another audience is audience_mismatch', async () => {
    const h = harness();
    const token = await tokens.sign({ jti: 'jti-provenance', aud: 'https://files.example.test' });
    revokeJti('jti-provenance');
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(token))), 'audience_mismatch');
  });

  test('revocations before protection: a revoked token is refused as revoked, and counts for nothing', async () => {
    const h = harness(1);
    const revoked = await tokens.sign({ sub: 'rita', jti: 'jti-revoked', scp: 'Mail.Read' });
    revokeJti('jti-revoked');
    blockToken(h, tokens.verifier.verify(revoked).fingerprint);
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(revoked))), 'token_revoked');
    // The limit of one request a minute for rita is still unused.
    const good = await tokens.sign({ sub: 'rita', scp: 'Mail.Read' });
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(good))), 'ok');
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(good))), 'rate_limited');
  });

  test('protection before scopes: a blocked token is token_blocked, and a scope-less request counts', async () => {
    const h = harness(1);
    const unscoped = await tokens.sign({ sub: 'sam' });
    blockToken(h, tokens.verifier.verify(unscoped).fingerprint);
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(unscoped))), 'token_blocked');
    const other = await tokens.sign({ sub: 'sue' });
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(other))), 'insufficient_scope');
    const scoped = await tokens.sign({ sub: 'sue', scp: 'Mail.Read' });
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(scoped))), 'rate_limited');
  });

  test('scopes last: a token that passes everything else lacks only its scope', async () => {
    const h = harness();
    const token = await tokens.sign({ sub: 'tom' });
    assert.equal(h.verdict(request('/api/mail/inbox', bearer(token))), 'insufficient_scope');
  });
});

describe('what authorize() hands back', () => {
  test('accepted: the verifier’s own token object, the route, the address, no headers', async () => {
    const h = harness();
    const token = await tokens.sign({ scp: 'Mail.Read' });
    const into = new Authorization();
    const verified = authorize(
      h.runtime,
      h.deps,
      request('/api/mail/inbox', bearer(token)),
      '/api/mail/inbox',
      false,
      into,
    );
    assert.equal(verified, tokens.verifier.verify(token), 'a cached token is handed out as it is');
    assert.equal(into.route, route);
    assert.equal(into.ip, CLIENT);
    assert.equal(into.headers, undefined);
  });

  test('a reused Authorization is cleared first: a refusal at source admission names no route', async () => {
    const h = harness();
    const into = new Authorization();
    const token = await tokens.sign({ scp: 'Mail.Read' });
    authorize(h.runtime, h.deps, request('/api/mail/inbox', bearer(token)), '/api/mail/inbox', false, into);
    assert.throws(() =>
      authorize(
        h.runtime,
        h.deps,
        request('/api/mail/inbox', bearer(token), BLOCKED),
        '/api/mail/inbox',
        false,
        into,
      ),
    );
    assert.equal(into.route, undefined);
    assert.equal(into.token, undefined);
    assert.equal(into.ip, undefined);
  });

  test('without protection nothing resolves the address: the refusal names the socket peer', async () => {
    const h = harness();
    const runtime = { ...h.runtime, protection: undefined };
    const into = new Authorization();
    const req = request('/api/mail/inbox?q=1', [], '::ffff:203.0.113.9');
    const failure = catchFailure(() => authorize(runtime, h.deps, req, req.url ?? '', false, into));
    assert.equal(into.ip, undefined);
    refuse(failure, into, req, req.url ?? '', h.deps.events);
    assert.equal(h.refusals.at(-1)!.ip, '203.0.113.9');
    assert.equal(h.refusals.at(-1)!.path, '/api/mail/inbox', 'no query string');
  });
});

describe('refuse(): one event, one answer', () => {
  test('a rate limit: 429 with Retry-After and the RateLimit fields, the event naming route, token and client', async () => {
    const h = harness(1);
    const token = await tokens.sign({ sub: 'uma', scp: 'Mail.Read' });
    const into = new Authorization();
    const req = () => request('/api/mail/inbox', bearer(token));
    authorize(h.runtime, h.deps, req(), '/api/mail/inbox', false, into);
    const failure = catchFailure(() => authorize(h.runtime, h.deps, req(), '/api/mail/inbox', false, into));
    const refusal = refuse(failure, into, req(), '/api/mail/inbox', h.deps.events);

    const secondsLeft = 60 - ((NOW_S % 60) as number);
    assert.equal(refusal.status, 429);
    assert.deepEqual(JSON.parse(refusal.body), { error: 'rate_limited', reason: 'rate_limited' });
    assert.equal(refusal.headers['retry-after'], String(secondsLeft));
    assert.equal(refusal.headers['ratelimit-policy'], '"per-subject";q=1;w=60');
    assert.equal(refusal.headers.ratelimit, `"per-subject";r=0;t=${secondsLeft}`);
    assert.equal(refusal.headers['cache-control'], 'no-store');

    const event = h.refusals.at(-1)!;
    assert.equal(event.reason, 'rate_limited');
    assert.equal(event.route, 'mail');
    assert.equal(event.ip, CLIENT);
    assert.equal(event.sub, 'uma');
    assert.equal(event.kid, 'ent-1');
    assert.equal(event.tokenFingerprint, tokens.verifier.verify(token).fingerprint);
    assert.ok(!JSON.stringify(event).includes(token), 'the token itself is never in the event');
  });

  test('a resource-minted token on a token-minting route is critical', async () => {
    const h = harness();
    const minting = compiledRoute({ name: 'token', prefix: '/api/token', mintsTokens: true });
    const runtime = { ...h.runtime, matcher: new RouteMatcher([minting]) };
    const minted = await tokens.sign({}, 'owa');
    const into = new Authorization();
    const req = request('/api/token/x', bearer(minted));
    const failure = catchFailure(() => authorize(runtime, h.deps, req, '/api/token/x', false, into));
    assert.equal(failure.reason, 'resource_minted_token');
    refuse(failure, into, req, '/api/token/x', h.deps.events);
    assert.equal(h.refusals.at(-1)!.severity, 'critical');
  });
});

describe('authorizeEventually', () => {
  test('an unknown kid waits for the one refetch, then is refused; the generation counts it meanwhile', async () => {
    let refetches = 0;
    let release: () => void = () => {};
    const keyRefetch: KeyRefetcher = {
      refetchFor: () => {
        refetches += 1;
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      cooldownLeftSeconds: () => 30,
    };
    const remote = await tokenFixture({ keyRefetch });
    const h = harness();
    const runtime = { ...h.runtime, verifier: remote.verifier, authenticating: 0 };
    const token = await remote.sign({ scp: 'Mail.Read' }, 'enterprise', 'ent-published-since');
    const req = request('/api/mail/inbox', bearer(token));
    const pending = authorizeEventually(runtime, h.deps, req, '/api/mail/inbox', new Authorization());
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runtime.authenticating, 1, 'waiting for the refetch');
    release();
    await assert.rejects(pending, (err) => err instanceof AuthFailure && err.reason === 'unknown_key');
    assert.equal(refetches, 1, 'the second pass does not refetch');
    assert.equal(runtime.authenticating, 0);
  });
});

function catchFailure(fn: () => unknown): AuthFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthFailure) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}
