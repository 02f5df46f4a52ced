import { constants } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import type { ListenerTls } from '../runtime/load-listener-tls.js';

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
