// At least 10,000 malformed Authorization values thrown at a real gateway over keep-alive HTTP:
// none may produce a 5xx, each must be a 401/403 with a reason from the table, and the process
// must be healthy afterwards. Set FUZZ_SEED to replay a run.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign as cryptoSign, type JsonWebKey } from 'node:crypto';
import { Agent } from 'node:http';
import { after, before, type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { REASON_CODES, REASONS, type Reason } from '../../src/verify/reasons.js';
import {
  AUDIENCE,
  enterpriseClaims,
  ISS,
  type KeyRing,
  keyRing,
  referenceConfig,
  sign,
  startTestGateway,
  type TestGateway,
  tempDir,
} from '../helpers/gateway-fixture.js';
import { get, httpRequest } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const RUNS = 10_000;
const SIGNED_RUNS = 1_500;
const WORKERS = 8;
const SEED =
  process.env.FUZZ_SEED === undefined
    ? Date.now() ^ (Math.random() * 2 ** 31)
    : Number(process.env.FUZZ_SEED);
const PATH = '/api/mail/fuzz';

let upstream: Upstream;
let gw: TestGateway;
let ring: KeyRing;
let validTokens: string[];

before(async () => {
  [upstream, ring] = await Promise.all([startUpstream(), keyRing()]);
  const dir = tempDir();
  gw = await startTestGateway(
    referenceConfig(dir, ring, {
      upstream: upstream.url,
      issuers: { enterprise: { tenants: ['tid-a'], maxTokenLifetimeSeconds: 86_400 } },
      // The overload guard answers 503 when the event loop lags, which on a busy shared machine
      // (client, gateway and upstream all in this process) says nothing about the input.
      extra: { lifecycle: { maxEventLoopDelayMs: 0 } },
    }),
    { dir },
  );
  validTokens = [
    await sign(ring.enterprise, enterpriseClaims()),
    await sign(ring.enterpriseEs, enterpriseClaims()),
    await sign(ring.consumer, { iss: ISS.consumer, sub: 'bob', aud: AUDIENCE, scp: 'Mail.Read' }),
    // Valid signatures that the gateway refuses anyway: a forgery and a resource-minted token.
    await sign(ring.consumer, enterpriseClaims()),
    await sign(ring.owa, { iss: ISS.owa, sub: 'alice', aud: AUDIENCE, scp: 'Mail.Read' }),
  ];
});

after(async () => {
  agent.destroy();
  await gw.close();
  await upstream.close();
});

// ---- arbitraries --------------------------------------------------------------------------

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const printableString = (maxLength: number) => fc.string({ unit: printable, maxLength });
const b64Char = fc.constantFrom(...B64URL);
const nearB64Char = fc.constantFrom(...B64URL, '+', '/', '=', '.', ' ', '%', '~');

const encode = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined')).toString(
    'base64url',
  );

/** Random base64url-ish text: canonical or not, any length modulo 4. */
const b64Part = fc.oneof(
  fc.string({ unit: b64Char, maxLength: 120 }),
  fc.string({ unit: nearB64Char, maxLength: 60 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64')),
);

const unicode = fc.string({ unit: 'grapheme', maxLength: 20 });
const anyNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 53, 1e308, -1e308));
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Mostly the well-typed value, sometimes anything at all: both the parser and the steps after it get fuzzed. */
const mostly = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 12, arbitrary: good },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: unicode },
    { weight: 1, arbitrary: anyNumber },
  );
const nowS = Math.floor(Date.now() / 1000);
const timeClaim = mostly(
  fc.oneof(
    fc.integer({ min: nowS - 200_000, max: nowS + 200_000 }),
    fc.integer(),
    fc.double({ noNaN: true }),
  ),
);

const KNOWN_KIDS = ['ent-2024', 'ent-es-1', 'msa-2016', 'owa-1', 'stray-1', ''];
/** `arbitrary` one time in `oneIn`, otherwise null. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

/** What a header may add: keys from the token, critical extensions, or any junk. */
const headerExtra = fc.oneof(
  fc.record({ jku: fc.constant('https://evil.example.test/jwks') }),
  fc.record({ x5u: fc.constant('https://evil.example.test/cert') }),
  fc.record({ jwk: fc.constant({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }) }),
  fc.record({ x5c: fc.array(printableString(20), { maxLength: 2 }) }),
  fc.record({ crit: fc.array(printableString(6), { maxLength: 2 }) }),
  fc.dictionary(printableString(6), anyJson, { maxKeys: 3 }),
);

/** Headers and payloads near the real thing, so that the fuzz reaches the deeper steps. */
const header = fc
  .tuple(
    fc.record(
      {
        alg: mostly(
          fc.constantFrom('RS256', 'ES256', 'RS384', 'PS256', 'EdDSA', 'none', 'HS256', 'HS512', 'ES512'),
        ),
        kid: mostly(fc.constantFrom(...KNOWN_KIDS)),
        typ: mostly(fc.constantFrom('JWT', 'at+jwt', 'application/at+jwt')),
      },
      { requiredKeys: ['alg'] },
    ),
    sometimes(headerExtra, 3),
  )
  .map(([base, extra]) => ({ ...base, ...(extra ?? {}) }));

const payload = fc.record(
  {
    iss: mostly(fc.constantFrom(ISS.enterprise, ISS.consumer, ISS.owa, 'https://evil.example.test/')),
    sub: mostly(fc.oneof(fc.constantFrom('alice', 'bob'), unicode)),
    aud: mostly(fc.oneof(fc.constant(AUDIENCE), fc.array(fc.constantFrom(AUDIENCE, 'x'), { maxLength: 3 }))),
    exp: timeClaim,
    nbf: timeClaim,
    iat: timeClaim,
    jti: mostly(unicode),
    tid: mostly(fc.constantFrom('tid-a', 'tid-b')),
    scp: mostly(fc.oneof(fc.constant('Mail.Read'), fc.array(fc.constantFrom('Mail.Read', 'Mail.Send')))),
    scope: mostly(printableString(20)),
    act: anyJson,
    nested: fc.jsonValue({ maxDepth: 6 }),
    huge: fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  },
  { requiredKeys: [] },
);

const jsonish = fc.oneof(
  { weight: 3, arbitrary: header },
  { weight: 3, arbitrary: payload },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: unicode },
);

const structuredToken = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: header }, { weight: 1, arbitrary: jsonish }),
    fc.oneof({ weight: 4, arbitrary: payload }, { weight: 1, arbitrary: jsonish }),
    fc.oneof(b64Part, fc.constant(''), fc.uint8Array({ minLength: 256, maxLength: 256 }).map(encode)),
  )
  .map(([h, p, s]) => `${encode(h)}.${encode(p)}.${s}`);

type Mutation = (token: string, at: number, char: string) => string;
const MUTATIONS: Record<string, Mutation> = {
  flipChar: (t, at, c) => `${t.slice(0, at)}${c}${t.slice(at + 1)}`,
  insertChar: (t, at, c) => `${t.slice(0, at)}${c}${t.slice(at)}`,
  deleteChar: (t, at) => `${t.slice(0, at)}${t.slice(at + 1)}`,
  truncate: (t, at) => t.slice(0, at),
  dropDot: (t, at) => {
    const dots = [...t.matchAll(/\./g)].map((m) => m.index);
    const i = dots[at % dots.length]!;
    return `${t.slice(0, i)}${t.slice(i + 1)}`;
  },
  addDot: (t, at) => `${t.slice(0, at)}.${t.slice(at)}`,
  pad: (t, at) => {
    const parts = t.split('.');
    parts[at % parts.length] += '='.repeat(1 + (at % 2));
    return parts.join('.');
  },
  swapAlphabet: (t) => t.replaceAll('-', '+').replaceAll('_', '/'),
  swapParts: (t) => {
    const [h, p, s] = t.split('.');
    return `${p}.${h}.${s}`;
  },
  repeatPart: (t, at) => {
    const parts = t.split('.');
    parts[at % 3] = parts[at % 3]!.repeat(2);
    return parts.join('.');
  },
  upperCase: (t) => t.toUpperCase(),
  signatureOfAnother: (t, at) => {
    const other = t.split('.');
    other[2] = createHash('sha256').update(String(at)).digest('base64url');
    return other.join('.');
  },
};

const mutatedToken = fc
  .tuple(
    fc.integer({ min: 0, max: 1_000_000 }),
    fc.constantFrom(...Object.keys(MUTATIONS)),
    fc.integer({ min: 0, max: 100_000 }),
    fc.oneof(b64Char, printable),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([which, name, position, char, times]) => {
    const original = validTokens[which % validTokens.length]!;
    let token = original;
    for (let i = 0; i < times; i++)
      token = MUTATIONS[name]!(token, (position * (i + 1)) % (token.length + 1), char);
    return { original, token };
  })
  .filter(({ original, token }) => token.trim() !== original)
  .map(({ token }) => token);

const scheme = fc.oneof(
  { weight: 8, arbitrary: fc.constant('Bearer') },
  { weight: 2, arbitrary: fc.constantFrom('bearer', 'BEARER', 'Basic', 'Token', 'Bearer:', 'Bearer,', '') },
  { weight: 1, arbitrary: printableString(10) },
);

/** The Authorization header values, all printable ASCII (Node refuses control characters). */
const authorization = fc
  .oneof(
    { weight: 4, arbitrary: mutatedToken.map((t) => `Bearer ${t}`) },
    { weight: 4, arbitrary: fc.tuple(scheme, structuredToken).map(([s, t]) => `${s} ${t}`) },
    {
      weight: 2,
      arbitrary: fc.tuple(scheme, fc.array(b64Part, { maxLength: 5 })).map(([s, p]) => `${s} ${p.join('.')}`),
    },
    { weight: 1, arbitrary: printableString(200) },
    { weight: 1, arbitrary: fc.tuple(scheme, printableString(400)).map(([s, t]) => `${s} ${t}`) },
  )
  // Past the gateway's header limit (maxTokenBytes + 16 KiB) Node answers 431 before any hook.
  .filter((value) => /^[\x20-\x7e]*$/.test(value) && value.length < 30_000);

/** Validly signed tokens with fuzzed header and claims, mostly near-valid: they reach every later step. */
const SIGNER_OF = { enterprise: 'enterpriseEs', consumer: 'consumer', owa: 'owa', evil: 'stray' } as const;
const ISS_OF = {
  enterprise: ISS.enterprise,
  consumer: ISS.consumer,
  owa: ISS.owa,
  evil: 'https://evil.example.test/',
};
const asciiClaim = printableString(24);
const CORE_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'tid'] as const;
const signedCase = fc.record({
  issuer: fc.constantFrom('enterprise', 'enterprise', 'enterprise', 'consumer', 'owa', 'evil'),
  otherSigner: sometimes(fc.constantFrom('enterpriseEs', 'enterprise', 'consumer', 'owa', 'stray'), 8),
  kid: fc.constantFrom(
    'own',
    'own',
    'own',
    'own',
    'own',
    'own',
    'ent-es-1',
    'owa-1',
    'msa-2016',
    'nope',
    'absent',
  ),
  typ: fc.option(fc.constantFrom('JWT', 'at+jwt'), { freq: 5 }),
  extra: sometimes(headerExtra, 12),
  route: fc.constantFrom('/api/mail', '/api/mail', '/api/token', '/api/resource'),
  drop: sometimes(fc.constantFrom(...CORE_CLAIMS), 10),
  claims: fc.record(
    {
      sub: fc.oneof(fc.constantFrom('alice', 'bob'), asciiClaim),
      aud: fc.oneof(
        { weight: 6, arbitrary: fc.constant(AUDIENCE) },
        { weight: 1, arbitrary: fc.array(fc.constantFrom(AUDIENCE, 'x'), { maxLength: 3 }) },
        { weight: 1, arbitrary: asciiClaim },
      ),
      exp: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: nowS + 60, max: nowS + 7200 }) },
        { weight: 1, arbitrary: fc.integer({ min: nowS - 200_000, max: nowS + 200_000 }) },
      ),
      iat: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: nowS - 3600, max: nowS }) },
        { weight: 1, arbitrary: fc.integer({ min: nowS - 200_000, max: nowS + 1000 }) },
      ),
      tid: fc.oneof(
        { weight: 8, arbitrary: fc.constant('tid-a') },
        { weight: 1, arbitrary: fc.constantFrom('tid-b', 'x') },
      ),
      scp: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('Mail.Read', 'Mail.Read Mail.Send') },
        { weight: 1, arbitrary: fc.constant('Mail.Send') },
        { weight: 1, arbitrary: fc.array(asciiClaim, { maxLength: 3 }) },
      ),
      nbf: fc.integer({ min: nowS - 1000, max: nowS + 120 }),
      jti: asciiClaim,
      scope: asciiClaim,
      act: sometimes(fc.constant({ sub: 'agent' }), 6),
      nested: fc.jsonValue({ maxDepth: 4 }),
    },
    { requiredKeys: ['sub', 'aud', 'exp', 'iat', 'tid', 'scp'] },
  ),
});
type SignedCase = typeof signedCase extends fc.Arbitrary<infer T> ? T : never;

const claimsOf = (c: SignedCase): Record<string, unknown> => {
  const claims: Record<string, unknown> = { iss: ISS_OF[c.issuer], ...c.claims };
  if (c.drop !== null) delete claims[c.drop];
  if (claims.act === null) delete claims.act;
  return claims;
};

function signCase(c: SignedCase): string {
  const pair = ring[c.otherSigner ?? SIGNER_OF[c.issuer]];
  const kid = c.kid === 'own' ? pair.kid : c.kid === 'absent' ? undefined : c.kid;
  const header = {
    alg: pair.alg,
    ...(kid === undefined ? {} : { kid }),
    ...(c.typ ? { typ: c.typ } : {}),
    ...(c.extra ?? {}),
  };
  const input = `${encode(header)}.${encode(claimsOf(c))}`;
  const key = createPrivateKey({ key: pair.privateJwk as JsonWebKey, format: 'jwk' });
  const signature =
    pair.alg === 'ES256'
      ? cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : cryptoSign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

// ---- the run ------------------------------------------------------------------------------

// node:http with keep-alive: on a busy 2-core machine it sends about three times what fetch does.
const agent = new Agent({ keepAlive: true, maxSockets: WORKERS });

interface Answer {
  readonly status: number;
  readonly www: string | null;
  readonly body: Record<string, unknown>;
}

async function send(path: string, authorization: string): Promise<Answer> {
  const res = await httpRequest(gw.url, { path, agent, headers: { authorization } });
  return { status: res.status, www: res.headers['www-authenticate'] ?? null, body: res.body };
}

/** What is wrong with a refusal, if anything: status, reason, error and challenge must agree with the table. */
function refusalProblem({ status, body, www }: Answer): string | undefined {
  if (status >= 500) return `a ${status}`;
  if (status !== 401 && status !== 403) return `status ${status}`;
  const reason = body.reason;
  if (typeof reason !== 'string' || !REASON_CODES.includes(reason as Reason))
    return `reason ${String(reason)}`;
  const spec = REASONS[reason as Reason];
  if (spec.status !== status) return `status ${status} for ${reason}`;
  if (body.error !== spec.error) return `error ${String(body.error)} for ${reason}`;
  const challenge =
    reason === 'missing_token'
      ? 'Bearer realm="provgate"'
      : `Bearer error="${spec.error}", error_description="${reason}"`;
  if (www !== challenge) return `WWW-Authenticate ${www}`;
  return undefined;
}

interface Outcome {
  readonly input: string;
  readonly status: number;
  readonly reason: string;
  readonly problem: string | undefined;
}

/** Runs every item through `check` with WORKERS requests in flight. */
async function fuzz<T>(items: readonly T[], check: (item: T) => Promise<Outcome>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        outcomes.push(await check(item));
      } catch (err) {
        outcomes.push({
          input: JSON.stringify(item),
          status: 0,
          reason: '-',
          problem: `request failed: ${String(err)}`,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return outcomes;
}

function report(t: TestContext, outcomes: readonly Outcome[], seconds: number): Map<string, number> {
  const byReason = new Map<string, number>();
  for (const o of outcomes) byReason.set(o.reason, (byReason.get(o.reason) ?? 0) + 1);
  t.diagnostic(`${outcomes.length} requests in ${seconds.toFixed(1)} s`);
  t.diagnostic(
    [...byReason.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ${n}`)
      .join(', '),
  );
  const failures = outcomes.filter((o) => o.problem !== undefined);
  assert.deepEqual(
    failures.slice(0, 10).map((o) => `${o.problem}: ${o.input.slice(0, 300)}`),
    [],
    `${failures.length} bad answers (seed ${SEED})`,
  );
  return byReason;
}

test(`${RUNS} malformed Authorization values: never a 5xx, always a reason from the table`, async (t) => {
  t.diagnostic(`seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
  const values = fc.sample(authorization, { numRuns: RUNS, seed: SEED });
  assert.equal(values.length, RUNS);
  const upstreamBefore = upstream.received.length;
  const eventsBefore = gw.logs.events().length;

  const started = Date.now();
  const outcomes = await fuzz(values, async (value) => {
    const answer = await send(PATH, value);
    return {
      input: JSON.stringify(value),
      status: answer.status,
      reason: String(answer.body.reason),
      problem: refusalProblem(answer),
    };
  });
  const byReason = report(t, outcomes, (Date.now() - started) / 1000);

  assert.equal(outcomes.length, RUNS);
  assert.equal(upstream.received.length, upstreamBefore, 'no fuzz request reached the upstream');
  assert.equal(gw.logs.events().length - eventsBefore, RUNS, 'one security event per refusal');
  // Past the parser too: header, issuer and key refusals occur, not only malformed_token.
  for (const reason of [
    'missing_token',
    'malformed_token',
    'forbidden_header',
    'unknown_issuer',
    'bad_signature',
  ])
    assert.ok(byReason.has(reason), `no ${reason} at all`);
  assert.ok(byReason.size >= 7, `only ${byReason.size} distinct reasons`);
});

test(`${SIGNED_RUNS} validly signed tokens with fuzzed headers and claims: 200 or a reason, never a 5xx`, async (t) => {
  const cases = fc.sample(signedCase, { numRuns: SIGNED_RUNS, seed: SEED + 1 });
  let n = 0;
  const started = Date.now();
  const outcomes = await fuzz(cases, async (c) => {
    const path = `${c.route}/signed-${++n}`;
    const answer = await send(path, `Bearer ${signCase(c)}`);
    const input = JSON.stringify(c);
    if (answer.status !== 200)
      return {
        input,
        status: answer.status,
        reason: String(answer.body.reason),
        problem: refusalProblem(answer),
      };
    // Through: the upstream must have been told who this is, exactly as the token says.
    const auth = (answer.body.auth ?? {}) as Record<string, string>;
    const claims = claimsOf(c);
    const problem =
      answer.body.url !== path
        ? `upstream got ${String(answer.body.url)}`
        : auth['x-auth-issuer'] !== c.issuer
          ? `x-auth-issuer ${auth['x-auth-issuer']}`
          : decodeURIComponent(auth['x-auth-subject'] ?? '') !== String(claims.sub)
            ? `x-auth-subject ${auth['x-auth-subject']}`
            : undefined;
    return { input, status: 200, reason: 'passed', problem };
  });
  const byReason = report(t, outcomes, (Date.now() - started) / 1000);
  assert.ok(byReason.has('passed'), 'some fuzzed tokens are valid and pass');
  for (const reason of [
    'token_expired',
    'audience_mismatch',
    'tenant_not_allowed',
    'key_issuer_mismatch',
    'resource_minted_token',
    'insufficient_scope',
  ])
    assert.ok(byReason.has(reason), `no ${reason} at all`);
  assert.ok(byReason.size >= 12, `only ${byReason.size} distinct outcomes`);
});

test('the gateway is healthy afterwards and still serves a valid token', async () => {
  const health = await get(`${gw.adminUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  const res = await get(`${gw.url}/api/mail/after-fuzz`, validTokens[0]);
  assert.equal(res.status, 200);
  assert.equal(upstream.received.at(-1)!.url, '/api/mail/after-fuzz');
  assert.equal(
    gw.logs.lines.filter((l) => l.msg === 'unexpected error').length,
    0,
    'no unexpected error was logged',
  );
});
