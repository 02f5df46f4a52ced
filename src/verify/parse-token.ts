import { AuthFailure } from './auth-failure.js';
import { decodeBase64url, decoded, decodedIsAscii } from './decode-base64url.js';

/** Registered and provgate-relevant claims, with their JSON types checked. */
export interface Claims {
  readonly iss?: string;
  readonly sub?: string;
  readonly jti?: string;
  readonly aud?: string | readonly string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly tid?: string;
  readonly scp?: string | readonly string[];
  readonly scope?: string;
  readonly act?: unknown;
  readonly [claim: string]: unknown;
}

export interface JoseHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly [member: string]: unknown;
}

export interface ParsedToken {
  readonly header: JoseHeader;
  readonly claims: Claims;
  /** ASCII `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

function malformed(note: string): AuthFailure {
  return new AuthFailure('malformed_token', { note });
}

/**
 * The bytes of `part` when it is canonical unpadded base64url (RFC 7515 section 2), else
 * undefined. Node's own decoder is lenient (padding, the `+/` alphabet, stray characters,
 * non-zero trailing bits all decode to something) and slows the signature check after it: see
 * decode-base64url.ts, which checks the form as it decodes.
 */
function decodeCanonical(part: string): Buffer | undefined {
  const n = decodeBase64url(part);
  if (n < 0) return undefined;
  const bytes = Buffer.allocUnsafe(n);
  decoded.copy(bytes, 0, 0, n);
  return bytes;
}

/** Whether `part` is canonical unpadded base64url; the empty string is. */
export function isCanonicalBase64url(part: string): boolean {
  return decodeBase64url(part) >= 0;
}

/** The UTF-8 text of a canonical base64url `part`, else undefined: no Buffer of its own. */
function decodeCanonicalText(part: string): string | undefined {
  const n = decodeBase64url(part);
  if (n < 0) return undefined;
  // ASCII is its own UTF-8: read as Latin-1 it is a plain copy, without a UTF-8 pass.
  return decoded.toString(decodedIsAscii() ? 'latin1' : 'utf8', 0, n);
}

function decodeObject(part: string, what: string): Record<string, unknown> {
  const text = part === '' ? undefined : decodeCanonicalText(part);
  if (text === undefined) throw malformed(`${what} is not canonical base64url`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw malformed(`${what} is not an object`);
  return value as Record<string, unknown>;
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const isStringList = (v: unknown): boolean => Array.isArray(v) && v.every(isString);
const isStringOrList = (v: unknown): boolean => typeof v === 'string' || isStringList(v);

/** The first registered claim of the wrong JSON type, in a fixed order; written out, not looped: it runs on every new token. */
function mistypedClaim(claims: Record<string, unknown>): string | undefined {
  if (claims.exp !== undefined && !isNumber(claims.exp)) return 'exp';
  if (claims.nbf !== undefined && !isNumber(claims.nbf)) return 'nbf';
  if (claims.iat !== undefined && !isNumber(claims.iat)) return 'iat';
  if (claims.iss !== undefined && !isString(claims.iss)) return 'iss';
  if (claims.sub !== undefined && !isString(claims.sub)) return 'sub';
  if (claims.jti !== undefined && !isString(claims.jti)) return 'jti';
  if (claims.tid !== undefined && !isString(claims.tid)) return 'tid';
  if (claims.scope !== undefined && !isString(claims.scope)) return 'scope';
  if (claims.aud !== undefined && !isStringOrList(claims.aud)) return 'aud';
  if (claims.scp !== undefined && !isStringOrList(claims.scp)) return 'scp';
  return undefined;
}

// An issuer signs most of its tokens under a handful of headers: a header part seen before is
// not decoded again. Only headers that passed every check are kept, frozen since they are shared;
// bounded, and emptied when full, so a stream of distinct headers costs what it did without it.
const HEADER_MEMO_ENTRIES = 64;
const knownHeaders = new Map<string, JoseHeader>();

function checkedHeader(header: Record<string, unknown>): JoseHeader {
  if (typeof header.alg !== 'string') throw malformed('header has no alg');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw malformed('kid is not a string');
  if (header.typ !== undefined && typeof header.typ !== 'string') throw malformed('typ is not a string');
  return header as JoseHeader;
}

function remember(headerPart: string, header: JoseHeader): void {
  if (knownHeaders.size >= HEADER_MEMO_ENTRIES) knownHeaders.clear();
  // A copy: the part is a slice of its token, and as a key it would keep the whole token alive.
  knownHeaders.set(Buffer.from(headerPart, 'latin1').toString('latin1'), Object.freeze(header));
}

/** Splits and decodes a compact JWS without trusting anything in it yet. */
export function parseToken(token: string): ParsedToken {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) throw malformed('not three parts');
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  // An empty signature is a well-formed unsecured JWS; the alg check names it for what it is.
  const signature = decodeCanonical(signaturePart);
  if (signature === undefined) throw malformed('signature is not canonical base64url');
  const known = knownHeaders.get(headerPart);
  const decodedHeader = known === undefined ? decodeObject(headerPart, 'header') : undefined;
  const claims = decodeObject(payloadPart, 'payload');
  let header = known;
  if (header === undefined) {
    header = checkedHeader(decodedHeader as Record<string, unknown>);
    remember(headerPart, header);
  }
  const mistyped = mistypedClaim(claims);
  if (mistyped !== undefined) throw malformed(`claim ${mistyped} has the wrong type`);
  // These may be absent, and then their identity header is too; an empty one is neither a value
  // nor an absence, and would reach the upstream as an empty header. (An empty sub is
  // claim_missing after the signature, as a missing one is; an empty iss names no issuer.)
  if (claims.jti === '') throw malformed('claim jti is empty');
  if (claims.tid === '') throw malformed('claim tid is empty');
  return {
    header,
    claims: claims as Claims,
    signingInput: token.slice(0, second),
    signature,
  };
}
