import { type KeyObject, X509Certificate } from 'node:crypto';

/** Validity of a key in epoch milliseconds; undefined ends are open. */
export interface ValidityWindow {
  readonly notBefore: number | undefined;
  readonly notAfter: number | undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A JWK that publishes its certificate (`x5c`, RFC 7517 4.7) is honoured only while that
 * certificate is: the Storm-0558 key had expired years before it was used. Only the leaf matters
 * here; trust in the key comes from the configured source, not from a chain the set supplies.
 * Returns the leaf's window, or a problem when the certificate is unreadable or is not for
 * this very key (a set must not pair one key with another key's certificate).
 */
export function certificateWindow(
  x5c: unknown,
  key: KeyObject,
): (ValidityWindow & { readonly subject: string }) | string {
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') {
    return 'x5c is not a non-empty array of base64 certificates';
  }
  const leafText = x5c[0] as string;
  // RFC 7517 4.7: standard base64 (not base64url) DER; Buffer.from would silently skip junk.
  if (!BASE64.test(leafText)) return 'x5c[0] is not base64';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(leafText, 'base64'));
  } catch (err) {
    return `x5c[0] is not an X.509 certificate (${(err as Error).message})`;
  }
  if (!leaf.publicKey.equals(key)) return 'x5c[0] certifies a different public key than the JWK';
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) return 'x5c[0] has an unreadable validity period';
  // X.509 notAfter is the last valid second (RFC 5280 4.1.2.5); the window's end is exclusive.
  // The subject only names the key in events (key.appeared); bounded, as it is the set's to choose.
  const subject = leaf.subject.split('\n').join(', ').slice(0, 256);
  return { notBefore, notAfter: notAfter + 1000, subject };
}

/** The stricter of two windows: a key must satisfy both the certificate and the config. */
export function intersectWindows(a: ValidityWindow, b: ValidityWindow): ValidityWindow {
  return {
    notBefore: laterOf(a.notBefore, b.notBefore),
    notAfter: earlierOf(a.notAfter, b.notAfter),
  };
}

function laterOf(x: number | undefined, y: number | undefined): number | undefined {
  if (x === undefined) return y;
  if (y === undefined) return x;
  return Math.max(x, y);
}

function earlierOf(x: number | undefined, y: number | undefined): number | undefined {
  if (x === undefined) return y;
  if (y === undefined) return x;
  return Math.min(x, y);
}
