import { AuthFailure } from './auth-failure.js';

const BEARER = /^bearer$/i;
const DPOP = /^dpop$/i;

/** How the access token came: `Authorization: Bearer` or `Authorization: DPoP` (RFC 9449 §7.1). */
export type CredentialScheme = 'bearer' | 'dpop';

/** Certificate headers a client sent (bits of Credentials.certificateHeaders). */
export const CLIENT_CERT = 1;
export const CLIENT_CERT_CHAIN = 2;
export const FORWARDED_CLIENT_CERT = 4;

/**
 * What the credentials step found, filled in place by readCredentials (the pipeline's
 * Authorization holds these fields), so that a request allocates nothing here.
 */
export interface Credentials {
  scheme: CredentialScheme | undefined;
  token: string | undefined;
  /** The value of the one DPoP header, for the DPoP scheme. */
  proof: string | undefined;
  /** Client-Cert, Client-Cert-Chain, x-forwarded-client-cert seen (CLIENT_CERT | ...). */
  certificateHeaders: number;
}

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
  return tokenOf(trimmed, space, maxBytes);
}

/**
 * The credentials step: the access token of `Authorization: Bearer …` or `Authorization: DPoP …`
 * with exactly one DPoP proof header (RFC 9449 §4.3 check 1, §7.1), and which certificate
 * headers came. Everything is counted in rawHeaders, one pass: Node keeps the first
 * Authorization header and joins duplicate DPoP headers with a comma in `headers`.
 *
 * Two Authorization headers of the two schemes are 400 ambiguous_credentials (RFC 9449 §7.2);
 * two of one scheme are malformed_token. Fills `into` (token first, so that a refusal about the
 * proof still names the token by its fingerprint) and returns the token.
 */
export function readCredentials(rawHeaders: readonly string[], maxBytes: number, into: Credentials): string {
  into.scheme = undefined;
  into.token = undefined;
  into.proof = undefined;
  into.certificateHeaders = 0;
  let value: string | undefined;
  let second: string | undefined;
  let proofs = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    switch (name.length) {
      case 13:
        if (name.toLowerCase() === 'authorization') {
          if (value === undefined) value = rawHeaders[i + 1]!;
          else second ??= rawHeaders[i + 1]!;
        }
        break;
      case 4:
        if (name.toLowerCase() === 'dpop') {
          proofs += 1;
          into.proof = rawHeaders[i + 1]!;
        }
        break;
      case 11:
        if (name.toLowerCase() === 'client-cert') into.certificateHeaders |= CLIENT_CERT;
        break;
      case 17:
        if (name.toLowerCase() === 'client-cert-chain') into.certificateHeaders |= CLIENT_CERT_CHAIN;
        break;
      case 23:
        if (name.toLowerCase() === 'x-forwarded-client-cert')
          into.certificateHeaders |= FORWARDED_CLIENT_CERT;
        break;
    }
  }
  if (value === undefined) throw new AuthFailure('missing_token');
  if (second !== undefined) {
    const a = schemeOf(value);
    const b = schemeOf(second);
    if (a !== b && (a === 'dpop' || b === 'dpop'))
      throw new AuthFailure('ambiguous_credentials', { note: 'Bearer and DPoP credentials at once' });
    throw new AuthFailure('malformed_token', { note: 'more than one Authorization header' });
  }
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const scheme = schemeOf(trimmed);
  if (scheme === undefined) throw new AuthFailure('missing_token', { note: 'no Bearer or DPoP credentials' });
  into.scheme = scheme;
  const token = tokenOf(trimmed, space, maxBytes);
  into.token = token;
  if (scheme === 'dpop') {
    if (proofs === 0)
      throw new AuthFailure('dpop_proof_missing', { note: 'DPoP credentials without a DPoP header' });
    if (proofs > 1) throw new AuthFailure('dpop_proof_invalid', { note: 'more than one DPoP header' });
  } else {
    // A proof that does not go with the scheme is not looked at (and never forwarded).
    into.proof = undefined;
  }
  return token;
}

function schemeOf(value: string): CredentialScheme | undefined {
  const trimmed = value.trimStart();
  const space = trimmed.indexOf(' ');
  const scheme = space === -1 ? trimmed.trimEnd() : trimmed.slice(0, space);
  if (BEARER.test(scheme)) return 'bearer';
  return DPOP.test(scheme) ? 'dpop' : undefined;
}

function tokenOf(trimmed: string, space: number, maxBytes: number): string {
  const token = space === -1 ? '' : trimmed.slice(space + 1).trim();
  if (token === '') throw new AuthFailure('malformed_token', { note: 'empty bearer token' });
  if (token.length > maxBytes) throw new AuthFailure('malformed_token', { note: 'token too large' });
  return token;
}
