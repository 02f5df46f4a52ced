import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { resolve } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import type { ListenConfig } from '../config/schema.js';

/** The proxy listener's TLS material, read once at start (`listen.tls`: restart to change it). */
export interface ListenerTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca: Buffer | undefined;
  readonly requestCert: boolean;
  readonly sessionResumption: boolean;
}

/** Reads the files `listen.tls` names, relative to the configuration's folder; every missing one is a problem with its path. */
export function loadListenerTls(tls: ListenConfig['tls'], baseDir: string): ListenerTls | undefined {
  if (tls === undefined) return undefined;
  const problems: string[] = [];
  const read = (file: string | undefined, path: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      problems.push(`listen.tls.${path}: cannot read ${file}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const key = read(tls.key, 'key');
  const cert = read(tls.cert, 'cert');
  const ca = read(tls.clientCa, 'clientCa');
  if (problems.length > 0 || key === undefined || cert === undefined) throw new ConfigError(problems);
  return { key, cert, ca, requestCert: tls.requestCert, sessionResumption: tls.sessionResumption };
}

/**
 * node:https options. A client certificate is asked for but never demanded in the handshake
 * (`rejectUnauthorized: false`): routes that need none share the listener, and a bound token
 * without one gets a 401 with its reason rather than a broken handshake. RFC 8705 §6.2: for
 * proof of possession the chain need not be checked; with `clientCa` it is, per request.
 */
export function httpsOptions(tls: ListenerTls, maxHeaderSize: number): ServerOptions {
  return {
    key: tls.key,
    cert: tls.cert,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    requestCert: tls.requestCert,
    rejectUnauthorized: false,
    maxHeaderSize,
    // No session tickets: every connection then makes a full handshake, proving the key again.
    ...(tls.sessionResumption ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
  };
}
