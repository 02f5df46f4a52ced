import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryProofReplay, proofId } from '../../../src/verify/dpop/proof-replay.js';

const T0 = 1_717_200_000_000;

test('a proof id is taken once while it lives, and free again after', () => {
  const replay = new MemoryProofReplay(80_000, 1000, T0);
  assert.equal(replay.claim('a', T0 + 70_000, T0), 'fresh');
  assert.equal(replay.claim('a', T0 + 70_000, T0 + 1), 'replayed');
  assert.equal(replay.claim('a', T0 + 70_000, T0 + 69_999), 'replayed', 'across a rotation');
  assert.equal(
    replay.claim('a', T0 + 200_000, T0 + 70_001),
    'fresh',
    'expired: its proof is refused by iat anyway',
  );
});

test('full means refused, never forgotten early: 1,001 fresh proofs do not flush a captured one (Spring JtiCache)', () => {
  const replay = new MemoryProofReplay(80_000, 1000, T0);
  assert.equal(replay.claim('captured', T0 + 70_000, T0), 'fresh');
  for (let i = 0; i < 1000; i++) replay.claim(`p${i}`, T0 + 70_000, T0 + 1);
  assert.equal(replay.claim('one-more', T0 + 70_000, T0 + 2), 'full');
  assert.equal(replay.claim('captured', T0 + 70_000, T0 + 3), 'replayed');
});

test('ids outlive the rotation that follows them, and go with the one after', () => {
  const replay = new MemoryProofReplay(10_000, 1000, T0);
  replay.claim('x', T0 + 10_000, T0 + 9_000);
  replay.claim('y', T0 + 20_000, T0 + 10_000); // rotates: x is in the previous generation
  assert.equal(replay.size, 2);
  replay.claim('z', T0 + 30_000, T0 + 20_000); // rotates again: x is gone
  assert.equal(replay.size, 2);
  replay.claim('w', T0 + 60_000, T0 + 50_000); // long quiet: both generations are past
  assert.equal(replay.size, 1);
});

test('the id is the jti in the context of its key, hashed to one size', () => {
  assert.notEqual(proofId('key-a', 'jti-1'), proofId('key-b', 'jti-1'));
  assert.equal(proofId('key-a', 'x'.repeat(10_000)).length, 43);
});
