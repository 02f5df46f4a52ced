// Why not Buffer.from(part, 'base64url'): Node's decoder (simdutf) is fast by itself, about
// 0.15 µs for a 1 KB payload, but on a CPU with AVX-512 (this project's Xeon) its wide
// instructions slow down the RSA or ECDSA verification that follows: measured, a native decode
// before each RS256 verify cost 1.6 µs of CPU per token, this loop about 0.7 µs. It is also
// lenient (padding, the `+/` alphabet, stray characters and non-zero trailing bits all decode
// to something), where this loop checks the canonical form (RFC 7515 section 2) as it goes.

// The 6-bit value of each code unit below 128 in the base64url alphabet, pre-shifted to its
// place in a group of four characters; the sign bit marks a character outside the alphabet.
const INVALID = -0x80000000;
const FIRST = new Int32Array(128).fill(INVALID);
const SECOND = new Int32Array(128).fill(INVALID);
const THIRD = new Int32Array(128).fill(INVALID);
const FOURTH = new Int32Array(128).fill(INVALID);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
for (let i = 0; i < 64; i++) {
  const c = ALPHABET.charCodeAt(i);
  FIRST[c] = i << 18;
  SECOND[c] = i << 12;
  THIRD[c] = i << 6;
  FOURTH[c] = i;
}

// Grown on demand; 16 KiB of token (the default verification.maxTokenBytes) fits from the start.
let capacity = 0;
let units = new Int32Array(0);
let unitBytes = Buffer.alloc(0);
/** The bytes of the last successful decodeBase64url, from offset 0: valid until the next call. */
export let decoded = Buffer.alloc(0);
let decodedView = new DataView(decoded.buffer);
let ascii = false;

function ensure(length: number): void {
  if (length <= capacity) return;
  capacity = Math.max(16 * 1024, length + 8);
  // The part's UTF-16 code units, two to an element: one native copy, then two typed-array reads
  // per four characters (charCodeAt on a sliced string is several times slower), and every code
  // unit stays exact (a Latin-1 copy would fold U+0141 onto "A").
  units = new Int32Array(Math.ceil(capacity / 2) + 1);
  unitBytes = Buffer.from(units.buffer);
  decoded = Buffer.alloc(Math.ceil((capacity * 3) / 4) + 4);
  decodedView = new DataView(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}
ensure(16 * 1024);

/** How many bytes `length` characters of unpadded base64url decode to; -1 when no such string has that length. */
export function decodedLength(length: number): number {
  const rest = length & 3;
  if (rest === 1) return -1;
  return (length >> 2) * 3 + (rest === 0 ? 0 : rest - 1);
}

/** Whether every byte of the last successful decode is below 0x80 (the text is its own Latin-1). */
export function decodedIsAscii(): boolean {
  return ascii;
}

/**
 * Decodes `part` into `decoded` when it is canonical unpadded base64url (the url alphabet only,
 * no padding, zero trailing bits) and returns the number of bytes; -1 for anything else.
 * Synchronous: the caller reads `decoded` before anything else decodes.
 */
export function decodeBase64url(part: string): number {
  const length = part.length;
  const size = decodedLength(length);
  if (size < 0) return -1;
  ensure(length);
  unitBytes.write(part, 0, 'utf16le');
  const u = units;
  const out = decodedView;
  // A code unit of 128 or more sets a bit of 0xff80 in its half of `units`; a character outside
  // the alphabet sets the sign bit of `bits`.
  let wide = 0;
  let bits = 0;
  let o = 0;
  let j = 0;
  const quads = length >> 2;
  for (let q = 0; q < quads; q++) {
    const x = u[j]!;
    const y = u[j + 1]!;
    const w = FIRST[x & 127]! | SECOND[(x >> 16) & 127]! | THIRD[y & 127]! | FOURTH[(y >> 16) & 127]!;
    wide |= x | y;
    bits |= w;
    // Four bytes written, three kept: the next group overwrites the fourth (decoded has room).
    out.setUint32(o, w << 8);
    j += 2;
    o += 3;
  }
  const rest = length & 3;
  if (rest !== 0) {
    const x = u[j]!;
    // Two or three characters left; a missing third counts as "A", a zero sextet.
    const y = rest === 3 ? u[j + 1]! & 0xffff : 0x41;
    const w = FIRST[x & 127]! | SECOND[(x >> 16) & 127]! | THIRD[y & 127]!;
    // The unused low bits of the last character must be zero, or two texts decode alike.
    if ((rest === 2 ? w & 0xf000 : w & 0xc0) !== 0) return -1;
    wide |= x | y;
    bits |= w;
    out.setUint32(o, w << 8);
    o += rest - 1;
  }
  if ((wide & 0xff80ff80) !== 0 || bits < 0) return -1;
  ascii = (bits & 0x808080) === 0;
  return o;
}
