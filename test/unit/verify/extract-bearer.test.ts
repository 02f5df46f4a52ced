import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { extractBearer } from '../../../src/verify/extract-bearer.js';

const MAX = 16 * 1024;
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

function refusal(rawHeaders: string[], max = MAX): string {
  try {
    extractBearer(rawHeaders, max);
  } catch (err) {
    assert.ok(err instanceof AuthFailure);
    return err.reason;
  }
  assert.fail(`expected a refusal for ${JSON.stringify(rawHeaders)}`);
}

test('the Bearer token of the one Authorization header', () => {
  assert.equal(extractBearer(['Host', 'x', 'Authorization', `Bearer ${TOKEN}`], MAX), TOKEN);
});

test('the scheme matches case-insensitively and surrounding whitespace is ignored', () => {
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    assert.equal(extractBearer(['authorization', `${scheme} ${TOKEN}`], MAX), TOKEN);
  }
  assert.equal(extractBearer(['AUTHORIZATION', `  Bearer   ${TOKEN}  `], MAX), TOKEN);
});

test('no Authorization header, or another scheme, is missing_token', () => {
  assert.equal(refusal([]), 'missing_token');
  assert.equal(refusal(['Host', 'x', 'Cookie', `access_token=${TOKEN}`]), 'missing_token');
  assert.equal(refusal(['Authorization', 'Basic YWxpY2U6c2VjcmV0']), 'missing_token');
  assert.equal(refusal(['Authorization', `Token ${TOKEN}`]), 'missing_token');
  assert.equal(refusal(['Authorization', `Bearer-${TOKEN}`]), 'missing_token');
  assert.equal(refusal(['Authorization', '']), 'missing_token');
  // A similarly named header is not the Authorization header.
  assert.equal(refusal(['Proxy-Authorization', `Bearer ${TOKEN}`]), 'missing_token');
  assert.equal(refusal(['X-Authorization', `Bearer ${TOKEN}`]), 'missing_token');
});

test('more than one Authorization header is malformed_token, whatever their case or content', () => {
  assert.equal(
    refusal(['Authorization', `Bearer ${TOKEN}`, 'authorization', `Bearer ${TOKEN}`]),
    'malformed_token',
  );
  assert.equal(
    refusal(['authorization', 'Basic eA==', 'AUTHORIZATION', `Bearer ${TOKEN}`]),
    'malformed_token',
  );
  assert.equal(refusal(['Authorization', `Bearer ${TOKEN}`, 'Authorization', '']), 'malformed_token');
});

test('an empty bearer token is malformed_token', () => {
  assert.equal(refusal(['Authorization', 'Bearer']), 'malformed_token');
  assert.equal(refusal(['Authorization', 'Bearer ']), 'malformed_token');
  assert.equal(refusal(['Authorization', 'bearer    ']), 'malformed_token');
});

test('a token longer than the limit is malformed_token; one at the limit is not', () => {
  const atLimit = 'a'.repeat(MAX);
  assert.equal(extractBearer(['Authorization', `Bearer ${atLimit}`], MAX), atLimit);
  assert.equal(refusal(['Authorization', `Bearer ${atLimit}a`]), 'malformed_token');
  assert.equal(refusal(['Authorization', `Bearer ${'x'.repeat(300)}`], 256), 'malformed_token');
});
