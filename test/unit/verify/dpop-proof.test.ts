// The sender-constraint step for DPoP (RFC 9449 §4.3, §7.1, §7.2) with real proofs signed by a
// jose client (ES256 and RS256 keys made at test time), real verified tokens, a fixed clock and
// the memory replay store. Every check of §4.3 is made to fail alone.
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { before, describe, test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { SenderConstraint, type SenderConstraintState } from '../../../src/verify/check-sender-constraint.js';
import { DpopNonces } from '../../../src/verify/dpop/dpop-nonce.js';
import { ProofKeys } from '../../../src/verify/dpop/proof-key.js';
import { MemoryProofReplay } from '../../../src/verify/dpop/proof-replay.js';
import { ForgeryCheckBudget } from '../../../src/verify/forgery-budget.js';
import { severityOf } from '../../../src/verify/reasons.js';
import type { VerifiedToken } from '../../../src/verify/verify-token.js';
import { type DpopKey, dpopKey, dpopProof, type ProofOptions } from '../../helpers/dpop-client.js';
import {
  compiledRoute,
  NOW_MS,
  NOW_S,
  type TokenFixture,
  tokenFixture,
} from '../../helpers/verified-token.js';

const ORIGIN = 'https://mail.example.test';
const URL_ = `${ORIGIN}/api/mail/messages`;

let tokens: TokenFixture;
let es: DpopKey;
let rsa: DpopKey;
let thief: DpopKey;
let dpopRoute: CompiledRoute;
let plainRoute: CompiledRoute;

before(async () => {
  [tokens, es, rsa, thief] = await Promise.all([
    tokenFixture(),
    dpopKey('ES256'),
    dpopKey('RS256'),
    dpopKey('ES256'),
  ]);
  dpopRoute = compiledRoute({ senderConstraint: 'dpop', dpopAlgorithms: ['ES256', 'RS256'] });
  plainRoute = compiledRoute();
});

function step(
  options: { nonces?: DpopNonces; budget?: number; clock?: () => number } = {},
): SenderConstraint {
  return new SenderConstraint({
    dpop: {
      origin: () => ORIGIN,
      maxAgeMs: 60_000,
      maxFutureMs: 10_000,
      nonces: options.nonces,
      replay: new MemoryProofReplay(80_000, 10_000, NOW_MS),
      keys: new ProofKeys(),
      mismatchBudget: new ForgeryCheckBudget(options.budget ?? 10),
    },
    certificates: {
      fromTls: false,
      requireAuthorized: false,
      header: 'none',
      trustedPeer: () => false,
      onForgedHeader: () => {},
    },
    failClosed: false,
    clock: options.clock ?? (() => NOW_MS),
  });
}

function request(method: string, url: string): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  return req;
}

interface Sent {
  readonly token: string;
  readonly verified: VerifiedToken;
}

async function boundToken(key: DpopKey | undefined): Promise<Sent> {
  const token = await tokens.sign(key === undefined ? {} : { cnf: { jkt: key.jkt } });
  return { token, verified: tokens.verifier.verify(token) };
}

function state(scheme: 'bearer' | 'dpop', token: string, proof?: string): SenderConstraintState {
  return { scheme, token, proof, certificateHeaders: 0, pendingProof: undefined };
}

const proofFor = (key: DpopKey, token: string, o: Partial<ProofOptions> = {}) =>
  dpopProof(key, { method: 'GET', url: URL_, token, iat: NOW_S, ...o });

/** The reason the step refuses with, or 'ok'. */
function verdict(
  s: SenderConstraint,
  sent: Sent,
  st: SenderConstraintState,
  route = dpopRoute,
  method = 'GET',
  path = '/api/mail/messages',
): string {
  try {
    s.check(sent.verified, route, request(method, path), path, st);
    return 'ok';
  } catch (err) {
    if (err instanceof AuthFailure) return err.reason;
    throw err;
  }
}

function failure(fn: () => unknown): AuthFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthFailure) return err;
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('a valid proof', () => {
  test('ES256 and RS256 proofs by the bound key pass, on a dpop route and on one that asks for nothing', async () => {
    for (const key of [es, rsa]) {
      const sent = await boundToken(key);
      const s = step();
      assert.equal(
        verdict(s, sent, state('dpop', sent.token, await proofFor(key, sent.token))),
        'ok',
        key.alg,
      );
      assert.equal(
        verdict(s, sent, state('dpop', sent.token, await proofFor(key, sent.token)), plainRoute),
        'ok',
      );
      assert.equal(s.outcomes.accepted, 2);
    }
  });

  test('htu spelled otherwise but equal after normalisation; a query is ignored on both sides', async () => {
    const sent = await boundToken(es);
    const s = step();
    for (const url of [
      'HTTPS://Mail.Example.Test:443/api/mail/messages',
      'https://mail.example.test/api/mail/messages?top=5',
      'https://mail.example.test/api/%6Dail/messages',
    ])
      assert.equal(
        verdict(s, sent, state('dpop', sent.token, await proofFor(es, sent.token, { url }))),
        'ok',
        url,
      );
  });

  test('typ in any case and as application/dpop+jwt (RFC 7515 §4.1.9)', async () => {
    const sent = await boundToken(es);
    for (const typ of ['DPoP+JWT', 'application/dpop+jwt'])
      assert.equal(
        verdict(step(), sent, state('dpop', sent.token, await proofFor(es, sent.token, { header: { typ } }))),
        'ok',
      );
  });
});

describe('each check of RFC 9449 §4.3 refuses alone', () => {
  const cases: [string, (sent: Sent) => Promise<string>][] = [
    ['not a JWS', async () => 'not.a-proof'],
    ['typ', (s) => proofFor(es, s.token, { header: { typ: 'JWT' } })],
    ['alg not on the route', async (s) => proofFor(await dpopKey('ES384'), s.token)],
    ['jwk of another type than alg', (s) => proofFor(es, s.token, { header: { jwk: rsa.publicJwk } })],
    ['private key in jwk', (s) => proofFor(es, s.token, { header: { jwk: { ...es.publicJwk, d: 'AAAA' } } })],
    ['crit', (s) => proofFor(es, s.token, { header: { crit: ['x'], x: 1 } })],
    ['htm', (s) => proofFor(es, s.token, { method: 'POST' })],
    ['htu host', (s) => proofFor(es, s.token, { url: 'https://evil.example.test/api/mail/messages' })],
    ['htu path', (s) => proofFor(es, s.token, { url: `${ORIGIN}/api/mail/messages/` })],
    ['htu not a URI', (s) => proofFor(es, s.token, { url: '%zz' })],
    ['iat too old', (s) => proofFor(es, s.token, { iat: NOW_S - 61 })],
    ['iat too far ahead', (s) => proofFor(es, s.token, { iat: NOW_S + 11 })],
    ['iat missing', (s) => proofFor(es, s.token, { claims: { iat: undefined } })],
    ['jti missing', (s) => proofFor(es, s.token, { claims: { jti: undefined } })],
    ['jti too long', (s) => proofFor(es, s.token, { jti: 'j'.repeat(257) })],
    ['ath missing', (s) => proofFor(es, s.token, { claims: { ath: undefined } })],
    ['ath of another token', (s) => proofFor(es, `${s.token}x`)],
    ['signature', async (s) => `${(await proofFor(es, s.token)).slice(0, -4)}AAAA`],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      const sent = await boundToken(es);
      const f = failure(() =>
        step().check(
          sent.verified,
          dpopRoute,
          request('GET', '/api/mail/messages'),
          '/api/mail/messages',
          state('dpop', sent.token, ''),
        ),
      );
      assert.equal(f.reason, 'dpop_proof_invalid', 'an empty proof');
      assert.equal(
        verdict(step(), sent, state('dpop', sent.token, await make(sent))),
        'dpop_proof_invalid',
        name,
      );
    });
  }

  test('iat 9 s ahead and 59 s old still pass (dpop.maxFutureSeconds, maxAgeSeconds)', async () => {
    const sent = await boundToken(es);
    assert.equal(
      verdict(step(), sent, state('dpop', sent.token, await proofFor(es, sent.token, { iat: NOW_S + 9 }))),
      'ok',
    );
    assert.equal(
      verdict(step(), sent, state('dpop', sent.token, await proofFor(es, sent.token, { iat: NOW_S - 59 }))),
      'ok',
    );
  });

  test('the refusal names the proof key, the binding and the normalised htu, never the proof', async () => {
    const sent = await boundToken(es);
    const proof = await proofFor(es, sent.token, {
      method: 'DELETE',
      url: 'HTTPS://MAIL.example.test/api/mail/messages',
    });
    const f = failure(() =>
      step().check(
        sent.verified,
        dpopRoute,
        request('GET', '/api/mail/messages'),
        '/api/mail/messages',
        state('dpop', sent.token, proof),
      ),
    );
    assert.equal(f.detail.binding, `jkt:${es.jkt}`);
    assert.equal(f.detail.presented, `jkt:${es.jkt}`);
    assert.equal(f.detail.note, 'htm is not the request method');
    assert.equal(f.detail.sub, 'alice');
    assert.ok(!JSON.stringify(f.detail).includes(proof.split('.')[2]!));
  });
});

describe('replay', () => {
  test('a proof is accepted once; the same jti by the same key again is refused', async () => {
    const sent = await boundToken(es);
    const s = step();
    const proof = await proofFor(es, sent.token);
    assert.equal(verdict(s, sent, state('dpop', sent.token, proof)), 'ok');
    assert.equal(verdict(s, sent, state('dpop', sent.token, proof)), 'dpop_proof_replayed');
    const sameJti = await proofFor(es, sent.token, { jti: 'fixed' });
    assert.equal(verdict(s, sent, state('dpop', sent.token, sameJti)), 'ok');
    assert.equal(
      verdict(s, sent, state('dpop', sent.token, await proofFor(es, sent.token, { jti: 'fixed' }))),
      'dpop_proof_replayed',
    );
  });

  test('a refused proof is not remembered: its jti is burnt only once every check passed', async () => {
    const sent = await boundToken(es);
    const s = step();
    const wrongMethod = await proofFor(es, sent.token, { jti: 'j1', method: 'POST' });
    assert.equal(verdict(s, sent, state('dpop', sent.token, wrongMethod)), 'dpop_proof_invalid');
    assert.equal(
      verdict(s, sent, state('dpop', sent.token, await proofFor(es, sent.token, { jti: 'j1' }))),
      'ok',
    );
  });
});

describe('binding', () => {
  const at = (sent: Sent, proof: string, route = dpopRoute) =>
    failure(() =>
      step().check(
        sent.verified,
        route,
        request('GET', '/api/mail/messages'),
        '/api/mail/messages',
        state('dpop', sent.token, proof),
      ),
    );

  test("a valid proof by the thief's own key: dpop_key_mismatch, critical", async () => {
    const sent = await boundToken(es);
    const f = at(sent, await proofFor(thief, sent.token));
    assert.equal(f.reason, 'dpop_key_mismatch');
    assert.equal(f.detail.signatureValid, true);
    assert.equal(severityOf(f.reason, f.detail), 'critical');
    assert.equal(f.detail.presented, `jkt:${thief.jkt}`);
    assert.equal(f.detail.binding, `jkt:${es.jkt}`);
  });

  test('past the budget the mismatch is unchecked (high); a forged signature by another key is just invalid', async () => {
    const sent = await boundToken(es);
    const s = step({ budget: 0 });
    const f = failure(() =>
      s.check(
        sent.verified,
        dpopRoute,
        request('GET', '/api/mail/messages'),
        '/api/mail/messages',
        state('dpop', sent.token, ''),
      ),
    );
    assert.equal(f.reason, 'dpop_proof_invalid');
    try {
      s.check(
        sent.verified,
        dpopRoute,
        request('GET', '/api/mail/messages'),
        '/api/mail/messages',
        state('dpop', sent.token, await proofFor(thief, sent.token)),
      );
      assert.fail('refused');
    } catch (err) {
      assert.equal((err as AuthFailure).reason, 'dpop_key_mismatch');
      assert.equal((err as AuthFailure).detail.signatureValid, 'unchecked');
      assert.equal(severityOf('dpop_key_mismatch', (err as AuthFailure).detail), 'high');
    }
    const forged = `${(await proofFor(thief, sent.token)).slice(0, -4)}AAAA`;
    assert.equal(at(sent, forged).reason, 'dpop_proof_invalid');
  });

  test('a DPoP-bound token sent as Bearer is dpop_bound_as_bearer, on every route (RFC 9449 §7.2)', async () => {
    const sent = await boundToken(es);
    for (const route of [dpopRoute, plainRoute])
      assert.equal(verdict(step(), sent, state('bearer', sent.token), route), 'dpop_bound_as_bearer');
  });

  test('an unbound token: refused with DPoP credentials and on a dpop route, a plain bearer elsewhere', async () => {
    const sent = await boundToken(undefined);
    assert.equal(
      verdict(step(), sent, state('dpop', sent.token, await proofFor(es, sent.token))),
      'token_not_bound',
    );
    assert.equal(verdict(step(), sent, state('bearer', sent.token), dpopRoute), 'token_not_bound');
    assert.equal(verdict(step(), sent, state('bearer', sent.token), plainRoute), 'ok');
    const mtls = compiledRoute({ senderConstraint: 'any' });
    assert.equal(verdict(step(), sent, state('bearer', sent.token), mtls), 'token_not_bound');
  });

  test('an issuer with boundTokens: required refuses its unbound tokens on every route', async () => {
    const token = await tokens.sign({});
    const verified = tokens.verifier.verify(token);
    const strict = {
      ...verified,
      issuer: { ...verified.issuer, boundTokens: 'required' as const },
    } as VerifiedToken;
    assert.equal(
      verdict(step(), { token, verified: strict }, state('bearer', token), plainRoute),
      'token_not_bound',
    );
  });

  test('a cnf the gateway cannot hold a token to is not a bearer token', async () => {
    for (const cnf of [{ jwk: es.publicJwk }, { jkt: 'short' }, 'jkt', { 'x5t#S256': 42 }]) {
      const token = await tokens.sign({ cnf } as never);
      const sent = { token, verified: tokens.verifier.verify(token) };
      assert.equal(
        verdict(step(), sent, state('bearer', token), plainRoute),
        'token_not_bound',
        JSON.stringify(cnf),
      );
    }
  });

  test('a certificate-bound token with no certificate on this listener: certificate_required', async () => {
    const token = await tokens.sign({ cnf: { 'x5t#S256': es.jkt } });
    const sent = { token, verified: tokens.verifier.verify(token) };
    assert.equal(verdict(step(), sent, state('bearer', token), plainRoute), 'certificate_required');
    assert.equal(
      verdict(step(), sent, state('bearer', token), dpopRoute),
      'token_not_bound',
      'not bound the way this route asks',
    );
  });
});

describe('nonces', () => {
  const KEY = 'k'.repeat(32);

  test('required: a proof without one, or with a made-up one, gets use_dpop_nonce and a nonce to use', async () => {
    const nonces = new DpopNonces([KEY], 60);
    const sent = await boundToken(es);
    for (const nonce of [undefined, 'made-up']) {
      const proof = await proofFor(es, sent.token, nonce === undefined ? {} : { nonce });
      const g = failure(() =>
        step({ nonces }).check(
          sent.verified,
          dpopRoute,
          request('GET', '/api/mail/messages'),
          '/api/mail/messages',
          state('dpop', sent.token, proof),
        ),
      );
      assert.equal(g.reason, 'dpop_nonce_required');
      assert.deepEqual(g.detail.headers, { 'dpop-nonce': nonces.current(NOW_MS) });
    }
  });

  test('a nonce of this slot passes with no header; of the last slot it passes and a new one rides along', async () => {
    const sent = await boundToken(es);
    const issuedBy = new DpopNonces([KEY], 60);
    const nonce = issuedBy.current(NOW_MS);
    const s = step({ nonces: new DpopNonces([KEY], 60) });
    const headers = s.check(
      sent.verified,
      dpopRoute,
      request('GET', '/api/mail/messages'),
      '/api/mail/messages',
      state('dpop', sent.token, await proofFor(es, sent.token, { nonce })),
    );
    assert.equal(headers, undefined);
    const later = NOW_MS + 60_000;
    const s2 = step({ nonces: new DpopNonces([KEY], 60), clock: () => later });
    const turned = s2.check(
      sent.verified,
      dpopRoute,
      request('GET', '/api/mail/messages'),
      '/api/mail/messages',
      state('dpop', sent.token, await proofFor(es, sent.token, { nonce, iat: NOW_S + 60 })),
    );
    assert.deepEqual(turned, { 'dpop-nonce': issuedBy.current(later) });
  });
});
