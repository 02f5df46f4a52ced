import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import { isCanonicalBase64url, parseToken } from '../../../src/verify/parse-token.js';

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const HEADER = { alg: 'RS256', kid: 'ent-2024', typ: 'JWT' };
const CLAIMS = { iss: 'https://login.example.test/enterprise/v2.0', sub: 'alice', exp: 2_000_000_000 };
const SIGNATURE = Buffer.from('a signature of some bytes').toString('base64url');

function token(header: unknown = HEADER, claims: unknown = CLAIMS, signature = SIGNATURE): string {
  return `${b64(header)}.${b64(claims)}.${signature}`;
}

function refusedAsMalformed(value: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof AuthFailure, `expected an AuthFailure for ${JSON.stringify(value)}`);
    assert.equal(err.reason, 'malformed_token');
    return true;
  };
}

function assertMalformed(value: string): void {
  assert.throws(() => parseToken(value), refusedAsMalformed(value));
}

describe('parseToken: a well-formed compact JWS', () => {
  test('splits header, claims, signing input and signature bytes', () => {
    const t = token();
    const parsed = parseToken(t);
    assert.deepEqual(parsed.header, HEADER);
    assert.deepEqual(parsed.claims, CLAIMS);
    assert.equal(parsed.signingInput, t.slice(0, t.lastIndexOf('.')));
    assert.equal(parsed.signature.toString(), 'a signature of some bytes');
  });

  test('an empty signature is well formed (the alg step names an unsigned token)', () => {
    const parsed = parseToken(token({ alg: 'none' }, CLAIMS, ''));
    assert.equal(parsed.header.alg, 'none');
    assert.equal(parsed.signature.length, 0);
  });

  test('claims of the right JSON types pass, including aud and scp as lists', () => {
    const claims = {
      iss: 'x',
      sub: 's',
      jti: 'j',
      tid: 't',
      scope: 'a b',
      scp: ['a', 'b'],
      aud: ['one', 'two'],
      exp: 1,
      nbf: 0,
      iat: 1.5,
      act: { sub: 'agent' },
      custom: [1, { nested: true }],
    };
    assert.deepEqual(parseToken(token(HEADER, claims)).claims, claims);
  });
});

describe('parseToken: anything but three parts of canonical base64url is malformed_token', () => {
  test('wrong number of parts', () => {
    const t = token();
    const [h, p, s] = t.split('.');
    for (const value of ['', 'abc', `${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`, `..`, '...']) {
      assertMalformed(value);
    }
  });

  test('an empty header or payload part', () => {
    const [h, p, s] = token().split('.');
    assertMalformed(`.${p}.${s}`);
    assertMalformed(`${h}..${s}`);
  });

  test('padding, the + / alphabet and stray characters, in any part', () => {
    const [h, p, s] = token().split('.') as [string, string, string];
    const padded = Buffer.from('{"alg":"RS256" }').toString('base64'); // 16 bytes: ends with '=='
    assert.ok(padded.endsWith('='));
    assertMalformed(`${padded}.${p}.${s}`);
    assertMalformed(`${h}.${p}=.${s}`);
    assertMalformed(`${h}.${p}.${s}=`);
    assertMalformed(`${h}.${p}.${s}==`);
    // Bytes chosen so the standard alphabet needs '+' and '/': 0xfb 0xff 0xbf -> "+/+/".
    const plusSlash = Buffer.from([0xfb, 0xff, 0xbf]).toString('base64');
    assert.equal(plusSlash, '+/+/');
    assertMalformed(`${h}.${p}.${plusSlash}`);
    assertMalformed(`${h}.${p}.${s.slice(0, -1)}+`);
    for (const stray of [' ', '!', '*', '~', '\u00e9', '%3D']) assertMalformed(`${h}.${p}${stray}.${s}`);
  });

  test('a non-canonical final character (non-zero trailing bits) is refused', () => {
    // "{}" is 2 bytes: 3 characters, the last carrying 2 unused bits.
    const canonical = b64({}); // 'e30'
    assert.equal(canonical, 'e30');
    const lenient = 'e31'; // decodes to the same bytes in a lenient decoder
    assert.deepEqual(Buffer.from(lenient, 'base64url'), Buffer.from(canonical, 'base64url'));
    const [, p, s] = token().split('.');
    assertMalformed(`${lenient}.${p}.${s}`);
    // Signature of 1 byte: 2 characters, 4 unused bits.
    assertMalformed(`${b64(HEADER)}.${p}.AB`);
    assert.doesNotThrow(() => parseToken(`${b64(HEADER)}.${p}.AA`));
    // A length of 1 modulo 4 is never base64.
    assertMalformed(`${b64(HEADER)}.${p}.AAAAA`);
  });

  test('a header or payload that is not a JSON object', () => {
    const [h, p, s] = token().split('.');
    for (const notObject of ['[1,2]', '"string"', '42', 'null', 'true', '{"alg":', 'not json']) {
      assertMalformed(`${b64(notObject)}.${p}.${s}`);
      assertMalformed(`${h}.${b64(notObject)}.${s}`);
    }
  });

  test('a header without a string alg, or with a non-string kid or typ', () => {
    assertMalformed(token({ kid: 'k' }));
    assertMalformed(token({ alg: 256 }));
    assertMalformed(token({ alg: 'RS256', kid: 7 }));
    assertMalformed(token({ alg: 'RS256', typ: ['JWT'] }));
  });

  test('a registered claim of the wrong JSON type', () => {
    const wrong: Record<string, unknown[]> = {
      exp: ['2000000000', null, true, [1], { n: 1 }, Number.POSITIVE_INFINITY],
      nbf: ['0'],
      iat: ['1'],
      iss: [1, ['x'], null],
      sub: [1, { id: 'alice' }],
      jti: [42],
      aud: [1, [1], ['ok', 2], { aud: 'x' }, null],
      tid: [1],
      scope: [['Mail.Read']],
      scp: [7, [7]],
    };
    for (const [claim, values] of Object.entries(wrong)) {
      for (const value of values) {
        // JSON has no Infinity, but 1e400 parses to it: write that literal by hand.
        const payload =
          value === Number.POSITIVE_INFINITY
            ? Buffer.from(`{"sub":"alice","${claim}":1e400}`).toString('base64url')
            : b64({ ...CLAIMS, [claim]: value });
        const t = `${b64(HEADER)}.${payload}.${SIGNATURE}`;
        assert.throws(() => parseToken(t), refusedAsMalformed(`${claim}=${JSON.stringify(value)}`));
      }
    }
  });
});

describe('parseToken: empty identity claims', () => {
  test('an empty jti or tid is malformed: it is neither a value nor an absent claim', () => {
    assertMalformed(token(HEADER, { ...CLAIMS, jti: '' }));
    assertMalformed(token(HEADER, { ...CLAIMS, tid: '' }));
    assert.doesNotThrow(() => parseToken(token(HEADER, { ...CLAIMS, jti: 'j', tid: 't' })));
  });
});

describe('isCanonicalBase64url', () => {
  test('whatever Node encodes is canonical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        assert.equal(isCanonicalBase64url(Buffer.from(bytes).toString('base64url')), true);
      }),
      { numRuns: 2000 },
    );
  });

  test('canonical means the decode/encode round trip gives the same text back', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.';
    const candidate = fc
      .array(fc.constantFrom(...alphabet), { maxLength: 12 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(candidate, (text) => {
        const roundTrip = Buffer.from(text, 'base64url').toString('base64url');
        const onAlphabet = /^[A-Za-z0-9_-]*$/.test(text);
        assert.equal(isCanonicalBase64url(text), onAlphabet && roundTrip === text, text);
      }),
      { numRuns: 5000 },
    );
  });
});
