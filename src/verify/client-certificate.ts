import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The client certificate of a request as a binding compares it (SHA-256 of its DER, base64url), or why there is none. */
export type PresentedCertificate = { readonly thumbprint: string } | { readonly problem: string };

export type CertificateHeader = 'client-cert' | 'x-forwarded-client-cert';

const THUMBPRINT = Symbol('provgate.clientCertificateThumbprint');
const PREPARED = Symbol('provgate.renegotiationDisabled');

interface MarkedSocket {
  [THUMBPRINT]?: string;
  [PREPARED]?: true;
}

/**
 * Called for every connection of the TLS listener: with renegotiation off, the certificate of a
 * connection cannot change under it (TLS 1.2 renegotiation could present another one midway),
 * so its thumbprint is computed once per connection, not once per request.
 */
export function prepareTlsSocket(socket: TLSSocket): void {
  socket.disableRenegotiation();
  (socket as MarkedSocket)[PREPARED] = true;
}

/**
 * The certificate the client presented on this connection (RFC 8705 §3: "from its TLS
 * implementation layer"). A resumed session reports the certificate of the full handshake it
 * resumes, and nothing when that handshake had none: whatever the TLS layer says is compared,
 * on every request. With `clientCa`, a certificate that does not chain to it does not count.
 */
export function tlsCertificate(socket: Socket, requireAuthorized: boolean): PresentedCertificate {
  const tls = socket as TLSSocket & MarkedSocket;
  if (tls.encrypted !== true) return { problem: 'no TLS on this connection' };
  const cached = tls[THUMBPRINT];
  if (cached !== undefined)
    return cached === '' ? { problem: 'no client certificate' } : { thumbprint: cached };
  let thumbprint = '';
  let problem = 'no client certificate';
  const certificate = tls.getPeerCertificate(false);
  if (certificate?.raw !== undefined) {
    if (requireAuthorized && !tls.authorized)
      problem = `client certificate not trusted: ${String(tls.authorizationError)}`;
    else thumbprint = sha256(certificate.raw);
  }
  if (tls[PREPARED] === true && problem === 'no client certificate') tls[THUMBPRINT] = thumbprint;
  return thumbprint === '' ? { problem } : { thumbprint };
}

/**
 * The certificate a trusted TLS-terminating proxy forwarded: RFC 9440 `Client-Cert` (a Byte
 * Sequence of the DER, a singleton), or Envoy's `x-forwarded-client-cert`, whose last element is
 * the one its adjacent hop appended (`Hash`, hex SHA-256, or `Cert`, URL-encoded PEM). Only ever
 * called for a peer in protection.trustedProxies.
 */
export function forwardedCertificate(
  rawHeaders: readonly string[],
  header: CertificateHeader,
): PresentedCertificate {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === header.length && rawHeaders[i]!.toLowerCase() === header)
      values.push(rawHeaders[i + 1]!);
  }
  if (values.length === 0) return { problem: `no ${header} header from the proxy` };
  return header === 'client-cert' ? clientCert(values) : forwardedClientCert(values.join(','));
}

const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;

function clientCert(values: readonly string[]): PresentedCertificate {
  // RFC 9440 §2.2: a singleton; a second one is a list, which the field may never be.
  if (values.length > 1) return { problem: 'more than one Client-Cert header' };
  const match = BYTE_SEQUENCE.exec(values[0]!.trim());
  if (match === null) return { problem: 'Client-Cert is not a Byte Sequence (RFC 8941)' };
  const der = Buffer.from(match[1]!, 'base64');
  // Node's base64 decoder skips what it cannot read: the bytes must encode back to the text.
  if (der.toString('base64').replace(/=+$/, '') !== match[1]!.replace(/=+$/, ''))
    return { problem: 'Client-Cert is not canonical base64' };
  return certificateOf(der);
}

function certificateOf(der: Buffer | string): PresentedCertificate {
  let raw: Buffer;
  try {
    raw = new X509Certificate(der).raw;
  } catch {
    return { problem: 'the forwarded certificate is not an X.509 certificate' };
  }
  return { thumbprint: sha256(raw) };
}

const HEX_SHA256 = /^[0-9A-Fa-f]{64}$/;

function forwardedClientCert(value: string): PresentedCertificate {
  const elements = split(value, ',');
  const last = elements.at(-1);
  if (last === undefined || last.trim() === '') return { problem: 'x-forwarded-client-cert is empty' };
  let hash: string | undefined;
  let cert: string | undefined;
  for (const pair of split(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    const raw = unquote(pair.slice(eq + 1).trim());
    if (raw === undefined) return { problem: 'x-forwarded-client-cert has a broken quoted value' };
    if (key === 'hash') hash = raw;
    else if (key === 'cert') cert = raw;
  }
  if (cert !== undefined) {
    let pem: string;
    try {
      pem = decodeURIComponent(cert);
    } catch {
      return { problem: 'x-forwarded-client-cert Cert is not URL-encoded' };
    }
    return certificateOf(pem);
  }
  if (hash === undefined) return { problem: 'x-forwarded-client-cert names no Hash or Cert' };
  // Envoy's Hash is hex; cnf["x5t#S256"] is base64url: compared as bytes.
  if (!HEX_SHA256.test(hash)) return { problem: 'x-forwarded-client-cert Hash is not a hex SHA-256' };
  return { thumbprint: Buffer.from(hash, 'hex').toString('base64url') };
}

/** Splits on `separator` outside double quotes. */
function split(value: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(value.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(value.slice(from));
  return parts;
}

function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return value;
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}
