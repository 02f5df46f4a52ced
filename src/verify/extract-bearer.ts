import { AuthFailure } from './auth-failure.js';

const BEARER = /^bearer$/i;

/**
 * The bearer token of a request. Node keeps only the first Authorization header in
 * `headers`, so duplicates are counted in rawHeaders: checking one value and forwarding
 * another is a classic bypass.
 */
export function extractBearer(rawHeaders: readonly string[], maxBytes: number): string {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (value !== undefined)
        throw new AuthFailure('malformed_token', { note: 'more than one Authorization header' });
      value = rawHeaders[i + 1]!;
    }
  }
  if (value === undefined) throw new AuthFailure('missing_token');
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  if (!BEARER.test(scheme)) throw new AuthFailure('missing_token', { note: 'no Bearer credentials' });
  const token = space === -1 ? '' : trimmed.slice(space + 1).trim();
  if (token === '') throw new AuthFailure('malformed_token', { note: 'empty bearer token' });
  if (token.length > maxBytes) throw new AuthFailure('malformed_token', { note: 'token too large' });
  return token;
}
