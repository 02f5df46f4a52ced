// Certificates made at test time with the openssl CLI, for TLS listeners and clients: a server
// certificate, self-signed client certificates, and a small CA with a client certificate it
// signed. Nothing is committed; each test file gets its own in a temp dir.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  readonly keyPath: string;
  readonly certPath: string;
  readonly key: Buffer;
  readonly cert: Buffer;
  /** RFC 8705 §3.1: base64url SHA-256 of the DER, as an issuer puts it in `cnf["x5t#S256"]`. */
  readonly x5t: string;
  /** The DER, base64: what RFC 9440 `Client-Cert` carries between colons. */
  readonly derBase64: string;
  /** Hex SHA-256 of the DER: Envoy's XFCC `Hash`. */
  readonly hexHash: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

function described(dir: string, name: string): TestCertificate {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  const cert = readFileSync(certPath);
  const der = new X509Certificate(cert).raw;
  return {
    keyPath,
    certPath,
    key: readFileSync(keyPath),
    cert,
    x5t: createHash('sha256').update(der).digest('base64url'),
    derBase64: der.toString('base64'),
    hexHash: createHash('sha256').update(der).digest('hex'),
  };
}

/** A self-signed EC P-256 certificate `name` in `dir`, valid for a day. */
export function selfSigned(dir: string, name: string): TestCertificate {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.crt`),
    '-subj',
    `/CN=${name}`,
    '-days',
    '1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return described(dir, name);
}

/** A CA (self-signed) and a client certificate it signed. */
export function caAndClient(
  dir: string,
  ca: string,
  client: string,
): { ca: TestCertificate; client: TestCertificate } {
  const authority = selfSigned(dir, ca);
  openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, `${client}.key`),
    '-out',
    join(dir, `${client}.csr`),
    '-subj',
    `/CN=${client}`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    join(dir, `${client}.csr`),
    '-CA',
    authority.certPath,
    '-CAkey',
    authority.keyPath,
    '-CAcreateserial',
    '-out',
    join(dir, `${client}.crt`),
    '-days',
    '1',
  ]);
  return { ca: authority, client: described(dir, client) };
}
