import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ListenConfig } from '../config/schema.js';

/** The proxy listener's TLS material, read once at start (`listen.tls`: restart to change it). */
export interface ListenerTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer | undefined;
  readonly requestCert: boolean;
  readonly sessionResumption: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and parses the PEM files `listen.tls` names, relative to the configuration's folder, the
 * way key files are read (load-jwks.ts): a file missing, unreadable or not PEM is a problem with
 * its path, pushed with every other problem of the configuration, never a stack trace at listen.
 */
export function loadListenerTls(
  tls: ListenConfig['tls'],
  baseDir: string,
  problems: string[],
): ListenerTls | undefined {
  if (tls === undefined) return undefined;
  const before = problems.length;
  const read = (name: 'cert' | 'key' | 'clientCa', file: string): Buffer | undefined => {
    const path = resolve(baseDir, file);
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})`;
      problems.push(`listen.tls.${name}: ${why} ${path}`);
      return undefined;
    }
  };
  const cert = read('cert', tls.cert);
  const certificate = cert === undefined ? undefined : certificateProblem('cert', tls, cert, problems);
  const key = read('key', tls.key);
  if (key !== undefined) {
    try {
      const privateKey = createPrivateKey(key);
      if (certificate !== undefined && !certificate.checkPrivateKey(privateKey))
        problems.push(
          `listen.tls.key: ${resolve(baseDir, tls.key)} is not the private key of ${resolve(baseDir, tls.cert)}`,
        );
    } catch (err) {
      problems.push(
        `listen.tls.key: ${resolve(baseDir, tls.key)} is not a PEM private key (${reasonOf(err)})`,
      );
    }
  }
  const ca = tls.clientCa === undefined ? undefined : read('clientCa', tls.clientCa);
  if (ca !== undefined) certificateProblem('clientCa', tls, ca, problems);
  if (problems.length > before || key === undefined || cert === undefined) return undefined;
  return { key, cert, ca, requestCert: tls.requestCert, sessionResumption: tls.sessionResumption };

  function certificateProblem(
    name: 'cert' | 'clientCa',
    settings: NonNullable<ListenConfig['tls']>,
    pem: Buffer,
    list: string[],
  ): X509Certificate | undefined {
    const path = resolve(baseDir, name === 'cert' ? settings.cert : settings.clientCa!);
    const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) {
      list.push(`listen.tls.${name}: ${path} holds no PEM certificate`);
      return undefined;
    }
    let first: X509Certificate | undefined;
    for (const [i, block] of blocks.entries()) {
      try {
        const parsed = new X509Certificate(block);
        first ??= parsed;
      } catch (err) {
        list.push(`listen.tls.${name}: certificate ${i + 1} of ${path} does not parse (${reasonOf(err)})`);
      }
    }
    return first;
  }
}

function reasonOf(err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).message;
}
