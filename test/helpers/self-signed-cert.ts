import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { JWK } from 'jose';

// A minimal DER writer, enough for one self-signed ECDSA P-256 certificate (RFC 5280), so tests
// make their x5c chains at run time without the openssl CLI and without committed key material.

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const int = (bytes: number[]) => der(0x02, Buffer.from(bytes));
// ecdsa-with-SHA256 (1.2.840.10045.4.3.2) and commonName (2.5.4.3)
const ECDSA_SHA256 = der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
const COMMON_NAME = der(0x06, Buffer.from([0x55, 0x04, 0x03]));

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const year = date.getUTCFullYear();
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return year < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

function name(cn: string): Buffer {
  return seq(set(seq(COMMON_NAME, der(0x0c, Buffer.from(cn, 'utf8')))));
}

export interface CertificateOptions {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly commonName?: string;
  /** Certify this public key instead of the signer's own (a certificate for the wrong key). */
  readonly subjectPublicJwk?: JWK;
}

/** A self-signed certificate for an EC P-256 key pair, as the base64 DER that `x5c` carries. */
export function selfSignedCertificate(privateJwk: JWK, options: CertificateOptions): string {
  const privateKey = createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const subjectKey =
    options.subjectPublicJwk === undefined
      ? createPublicKey(privateKey)
      : createPublicKey({ key: options.subjectPublicJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const spki = subjectKey.export({ type: 'spki', format: 'der' });
  const cn = name(options.commonName ?? 'provgate test key');
  const tbs = seq(
    der(0xa0, int([2])), // version v3
    int([0x01, Math.floor(Math.random() * 0x7f)]),
    seq(ECDSA_SHA256),
    cn,
    seq(time(options.notBefore), time(options.notAfter)),
    cn,
    spki,
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const certificate = seq(tbs, seq(ECDSA_SHA256), der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return certificate.toString('base64');
}
