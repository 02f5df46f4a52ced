import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeBase64url,
  decoded,
  decodedIsAscii,
  decodedLength,
} from '../../../src/verify/decode-base64url.js';

const bytesOf = (part: string): Buffer | undefined => {
  const n = decodeBase64url(part);
  return n < 0 ? undefined : Buffer.from(decoded.subarray(0, n));
};

describe('decodeBase64url', () => {
  test('decodes whatever Node encodes to the same bytes, and says whether they are ASCII', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const part = Buffer.from(bytes).toString('base64url');
        assert.deepEqual(bytesOf(part), Buffer.from(bytes));
        assert.equal(decodedLength(part.length), bytes.length);
        assert.equal(
          decodedIsAscii(),
          bytes.every((b) => b < 0x80),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('accepts exactly the canonical unpadded base64url texts', () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'AQgw_-+/=. \n\u0141\u00c1é'.split('')), maxLength: 12 }),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    fc.assert(
      fc.property(text, (part) => {
        const canonical =
          /^[A-Za-z0-9_-]*$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part;
        assert.equal(decodeBase64url(part) >= 0, canonical, JSON.stringify(part));
      }),
      { numRuns: 5000 },
    );
  });

  test('refuses padding, the + / alphabet, stray characters and non-zero trailing bits', () => {
    for (const part of ['YQ==', 'YQ=', 'a+b/', 'YW Jj', 'YWJj\n', 'YR', 'YWJ', 'Y', 'YWJjZ']) {
      assert.equal(decodeBase64url(part), -1, part);
    }
    assert.equal(decodeBase64url('YQ'), 1);
    assert.equal(decodeBase64url('YWI'), 2);
    assert.equal(decodeBase64url(''), 0);
  });

  test('a character above U+00FF is refused even where its low byte is in the alphabet', () => {
    // U+0141 has the low byte 0x41 ("A"): a Latin-1 copy of the text would decode it as "A".
    assert.equal(decodeBase64url('QUFB'), 3);
    assert.equal(decodeBase64url('QUF\u0141'), -1);
    assert.equal(decodeBase64url('Q\u0155'), -1);
  });

  test('texts longer than the initial buffers decode too', () => {
    const bytes = Buffer.alloc(100_000, 0xab);
    const part = bytes.toString('base64url');
    assert.deepEqual(bytesOf(part), bytes);
    assert.equal(decodedIsAscii(), false);
  });
});
