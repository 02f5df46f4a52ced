import type { IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { MintedKind } from '../lineage/lineage-record.js';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const MEMBERS: readonly MintedKind[] = ['access_token', 'id_token', 'refresh_token'];

/** Whether an answer may be a token response (RFC 6749 §5.1, RFC 8693 §2.2.1): 2xx JSON with a body. */
export function mayBeTokenAnswer(method: string, statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (method === 'HEAD' || statusCode < 200 || statusCode > 299 || statusCode === 204) return false;
  const type = headers['content-type'];
  return typeof type === 'string' && JSON_TYPE.test(type);
}

/** What a minting route's answer holds, once read whole. */
export type TokenAnswer =
  /** Not JSON, or JSON without a token member: not a token answer, delivered as it is. */
  | { readonly kind: 'none' }
  /** Compressed in a way that cannot be read within the limit, or a coding we do not know. */
  | { readonly kind: 'unreadable'; readonly note: string }
  /** A token member that is not a compact JWS (an access_token must be one on a minting route). */
  | { readonly kind: 'malformed'; readonly member: MintedKind; readonly note: string }
  | {
      readonly kind: 'tokens';
      readonly tokens: readonly { readonly member: MintedKind; readonly token: string }[];
    };

/**
 * Reads a buffered answer: its content coding undone within `limit` bytes, its JSON parsed, its
 * `access_token` (which must be a JWT) and `id_token` / `refresh_token` (when they are JWTs)
 * picked out. The bytes delivered to the client are always the upstream's own, never these.
 */
export function readTokenAnswer(body: Buffer, encoding: string | undefined, limit: number): TokenAnswer {
  let bytes: Buffer;
  try {
    bytes = decode(body, encoding, limit);
  } catch (err) {
    return { kind: 'unreadable', note: `content-encoding ${encoding}: ${(err as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'none' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'none' };
  const answer = parsed as Record<string, unknown>;
  const tokens: { member: MintedKind; token: string }[] = [];
  for (const member of MEMBERS) {
    const value = answer[member];
    if (value === undefined) continue;
    if (typeof value === 'string' && looksLikeJws(value)) tokens.push({ member, token: value });
    // An opaque refresh token is the authorization server's own business; an access token from a
    // route that mints JWTs must be one, or it could never be tracked.
    else if (member === 'access_token')
      return { kind: 'malformed', member, note: 'access_token is not a compact JWS' };
    else if (typeof value !== 'string')
      return { kind: 'malformed', member, note: `${member} is not a string` };
  }
  return tokens.length === 0 ? { kind: 'none' } : { kind: 'tokens', tokens };
}

/** Three dot-separated parts: meant as a JWS. Whether it is a good one is the verifier's to say. */
function looksLikeJws(value: string): boolean {
  const first = value.indexOf('.');
  if (first === -1) return false;
  const second = value.indexOf('.', first + 1);
  return second !== -1 && value.indexOf('.', second + 1) === -1;
}

function decode(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  const coding = encoding?.trim().toLowerCase();
  if (coding === undefined || coding === '' || coding === 'identity') return body;
  const options = { maxOutputLength: limit };
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body, options);
    case 'deflate':
      return inflateSync(body, options);
    case 'br':
      return brotliDecompressSync(body, options);
    default:
      throw new Error('unknown content coding');
  }
}
