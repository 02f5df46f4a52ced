// The credentials step (RFC 9449 §4.3 check 1, §7.1, §7.2): Bearer or DPoP, exactly one proof,
// everything counted in rawHeaders, since Node keeps the first Authorization header and joins
// duplicate DPoP headers with a comma in `headers`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthFailure } from '../../../src/verify/auth-failure.js';
import {
  CLIENT_CERT,
  CLIENT_CERT_CHAIN,
  type Credentials,
  FORWARDED_CLIENT_CERT,
  readCredentials,
} from '../../../src/verify/extract-bearer.js';

const T = 'aaa.bbb.ccc';

function read(raw: string[]): Credentials | string {
  const into: Credentials = { scheme: undefined, token: undefined, proof: undefined, certificateHeaders: 0 };
  try {
    readCredentials(raw, 16384, into);
    return into;
  } catch (err) {
    return (err as AuthFailure).reason;
  }
}

test('Bearer and DPoP, schemes in any case; the proof only with the DPoP scheme', () => {
  assert.deepEqual(read(['Authorization', `Bearer ${T}`]), {
    scheme: 'bearer',
    token: T,
    proof: undefined,
    certificateHeaders: 0,
  });
  assert.deepEqual(read(['authorization', `dPoP ${T}`, 'DPoP', 'p.r.f']), {
    scheme: 'dpop',
    token: T,
    proof: 'p.r.f',
    certificateHeaders: 0,
  });
  const bearer = read(['Authorization', `Bearer ${T}`, 'DPoP', 'p.r.f']) as Credentials;
  assert.equal(bearer.proof, undefined, 'a DPoP header with Bearer credentials is not looked at');
});

test('DPoP credentials without a proof, or with two DPoP headers (Node would join them): refused', () => {
  assert.equal(read(['Authorization', `DPoP ${T}`]), 'dpop_proof_missing');
  assert.equal(read(['Authorization', `DPoP ${T}`, 'DPoP', 'a.b.c', 'dpop', 'a.b.c']), 'dpop_proof_invalid');
});

test('Bearer and DPoP at once is ambiguous_credentials (400); two of one scheme stay malformed_token', () => {
  assert.equal(
    read(['Authorization', `Bearer ${T}`, 'Authorization', `DPoP ${T}`, 'DPoP', 'a.b.c']),
    'ambiguous_credentials',
  );
  assert.equal(read(['Authorization', `DPoP ${T}`, 'authorization', `Bearer ${T}`]), 'ambiguous_credentials');
  assert.equal(read(['Authorization', `Bearer ${T}`, 'Authorization', `Bearer ${T}`]), 'malformed_token');
  assert.equal(read(['Authorization', `Basic x`, 'Authorization', `Bearer ${T}`]), 'malformed_token');
});

test('another scheme is missing_token; an empty token is malformed_token', () => {
  assert.equal(read(['Authorization', 'Basic dXNlcjpwdw==']), 'missing_token');
  assert.equal(read([]), 'missing_token');
  assert.equal(read(['Authorization', 'DPoP ', 'DPoP', 'a.b.c']), 'malformed_token');
});

test('certificate headers are noted, whatever their case, for the forged-header check', () => {
  const c = read([
    'Authorization',
    `Bearer ${T}`,
    'Client-Cert',
    ':AA==:',
    'CLIENT-CERT-CHAIN',
    ':AA==:',
    'X-Forwarded-Client-Cert',
    'Hash=00',
  ]) as Credentials;
  assert.equal(c.certificateHeaders, CLIENT_CERT | CLIENT_CERT_CHAIN | FORWARDED_CLIENT_CERT);
});
