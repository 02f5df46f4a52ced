// How many characters of the token's end make its key: its signature's last bytes, for a token that
// verified as good as random (RSA and ECDSA values, EdDSA's S): 192 bits of it.
const TAIL_CHARS = 32;

/**
 * A number naming a token in the verification caches, from the last characters of its signature:
 * a Map keyed by the ~1 KB token string itself hashes all of it on every look-up (the string is
 * new each request), a few µs, where this is a 32-character loop and a number. 53 bits, two
 * 32-bit FNV-style hashes; two tokens sharing a key (about one chance in 10^15 a pair) are told
 * apart by the entry's own token, compared in full before an entry is used: a key is never
 * taken for the token.
 */
export function tokenKey(token: string): number {
  const n = token.length;
  let h1 = 0x811c9dc5 ^ n;
  let h2 = 0x9747b28c;
  for (let i = n > TAIL_CHARS ? n - TAIL_CHARS : 0; i < n; i++) {
    const c = token.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  h2 ^= h2 >>> 15;
  return (h1 >>> 0) * 0x200000 + (h2 >>> 11);
}
