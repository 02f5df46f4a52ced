import { randomUUID } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { IntrospectionConfig } from '../../config/schema.js';

/**
 * How the gateway authenticates to the introspection endpoint (RFC 7662 section 2.1 requires it):
 * client_secret_basic (RFC 6749 section 2.3.1: id and secret each form-urlencoded, then joined
 * and base64-encoded), or private_key_jwt (RFC 7523: a fresh signed assertion per request). What
 * it produces goes on the wire only: never into a log, an event or an error message.
 */
export interface ClientCredentials {
  /** The Authorization header and the form fields to add to one request. */
  forRequest(endpoint: string): Promise<{ authorization?: string; form: Record<string, string> }>;
}

export function clientCredentials(config: IntrospectionConfig): ClientCredentials {
  if (config.clientSecret !== undefined) {
    const basic = `Basic ${Buffer.from(`${formEncode(config.clientId)}:${formEncode(config.clientSecret)}`).toString('base64')}`;
    return { forRequest: async () => ({ authorization: basic, form: {} }) };
  }
  const jwt = config.privateKeyJwt!;
  let key: Promise<{ key: CryptoKey | Uint8Array; alg: string; kid: string | undefined }> | undefined;
  return {
    async forRequest(endpoint) {
      key ??= (async () => {
        const jwk = JSON.parse(jwt.jwk) as JWK;
        const alg = jwt.alg ?? jwk.alg;
        if (alg === undefined) throw new Error('privateKeyJwt: the key names no alg and none is configured');
        return { key: (await importJWK(jwk, alg)) as CryptoKey | Uint8Array, alg, kid: jwk.kid };
      })();
      const { key: signingKey, alg, kid } = await key;
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
        .setIssuer(config.clientId)
        .setSubject(config.clientId)
        .setAudience(endpoint)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(signingKey);
      return {
        form: {
          client_id: config.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        },
      };
    },
  };
}

/** application/x-www-form-urlencoded, as RFC 6749 appendix B says for client_secret_basic. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
