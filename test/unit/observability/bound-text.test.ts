import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundStrings, boundText, MAX_FIELD_CHARS } from '../../../src/observability/bound-text.js';

test('a short value is kept as it is; a long one is cut to 256 characters with a marker', () => {
  assert.equal(boundText('alice'), 'alice');
  assert.equal(boundText('k'.repeat(256)), 'k'.repeat(256));
  const cut = boundText('k'.repeat(11_264));
  assert.equal(cut.length, MAX_FIELD_CHARS);
  const [, kept, dropped] = /^(k+)…\[\+(\d+)\]$/.exec(cut) ?? [];
  assert.equal(kept!.length + Number(dropped), 11_264, 'the marker counts exactly what was cut');
  assert.equal(boundText('k'.repeat(257)).length, 256);
});

test('never half a character: a surrogate pair at the cut is dropped whole', () => {
  for (const pad of ['', 'a']) {
    const cut = boundText(pad + '😀'.repeat(300));
    assert.ok(cut.length <= MAX_FIELD_CHARS);
    assert.ok(!Buffer.from(cut, 'utf8').toString('utf8').includes('\uFFFD'), JSON.stringify(cut.slice(-14)));
    assert.doesNotMatch(cut, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, 'no lone high surrogate');
  }
});

test('boundStrings: the same object when nothing is long, a copy of the same shape when something is', () => {
  const short = { kid: 'ent-2024', sub: 'alice', status: 401, signatureValid: true, note: undefined };
  assert.equal(boundStrings(short), short);
  const long = { ...short, kid: 'k'.repeat(11_000) };
  const bounded = boundStrings(long);
  assert.notEqual(bounded, long);
  assert.deepEqual(Object.keys(bounded), Object.keys(long), 'same keys, same order');
  assert.equal(bounded.kid.length, MAX_FIELD_CHARS);
  assert.equal(bounded.sub, 'alice');
  assert.equal(long.kid.length, 11_000, 'the original is left alone');
});
