import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DpopNonces } from '../../../src/verify/dpop/dpop-nonce.js';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);
const T0 = 1_717_200_000_000;

test('two instances with one key make and accept the same nonces, without talking', () => {
  const one = new DpopNonces([KEY_A], 60);
  const two = new DpopNonces([KEY_A], 60);
  const nonce = one.current(T0);
  assert.equal(two.current(T0 + 5), nonce);
  assert.equal(two.check(nonce, T0 + 5), 'fresh');
  assert.match(nonce, /^[A-Za-z0-9_-]{32}$/, 'NQCHAR, nothing to quote');
});

test('a nonce is fresh for its slot, turning for the next, dead after; the next slot is accepted (clocks apart)', () => {
  const nonces = new DpopNonces([KEY_A], 60);
  const slotStart = Math.floor(T0 / 60_000) * 60_000;
  const nonce = nonces.current(slotStart);
  assert.equal(nonces.check(nonce, slotStart + 59_999), 'fresh');
  assert.equal(nonces.check(nonce, slotStart + 60_000), 'turning');
  assert.equal(nonces.check(nonce, slotStart + 120_000), 'invalid');
  // An instance a second behind still accepts what one a second ahead made in the new slot.
  assert.equal(nonces.check(nonces.current(slotStart + 60_000), slotStart + 59_000), 'fresh');
  assert.notEqual(nonces.current(slotStart + 60_000), nonce, 'a new slot, a new nonce');
});

test('another key makes other nonces; listing both keys accepts both (rotation)', () => {
  const old = new DpopNonces([KEY_A], 60);
  const rotated = new DpopNonces([KEY_B, KEY_A], 60);
  assert.notEqual(rotated.current(T0), old.current(T0));
  assert.equal(rotated.check(old.current(T0), T0), 'fresh');
  assert.equal(new DpopNonces([KEY_B], 60).check(old.current(T0), T0), 'invalid');
  assert.equal(old.check('made-up-nonce', T0), 'invalid');
});

test('the DPoP-Nonce header is one object per slot', () => {
  const nonces = new DpopNonces([KEY_A], 60);
  assert.equal(nonces.headers(T0), nonces.headers(T0 + 1));
  assert.deepEqual(nonces.headers(T0), { 'dpop-nonce': nonces.current(T0) });
});
