import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenVerifier } from '../../src/verify/verify-token.js';
import { LOAD_AUDIENCE, LOAD_ISSUER } from '../setup/enterprise-claims.js';
import type { SigningKey } from '../setup/signing-key.js';
import type { GatewayModules } from './gateway-modules.js';

/** `verification.cache` as a configuration file writes it. */
export type BenchCache =
  | { readonly enabled: false }
  | { readonly maxEntries: number; readonly admission: 'first-sighting' | 'second-sighting' };

/**
 * The gateway's TokenVerifier built the way the server builds it (config file, loadConfigFile,
 * compileConfig); by default with the verified-token cache off, so that every call checks a
 * signature.
 */
export async function gatewayVerifier(
  m: GatewayModules,
  dir: string,
  keys: readonly SigningKey[],
  cache: BenchCache = { enabled: false },
): Promise<TokenVerifier> {
  const jwks = join(dir, 'bench.jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  const path = join(dir, 'bench.json');
  const config = {
    issuers: {
      enterprise: {
        issuer: LOAD_ISSUER,
        role: 'identity-provider',
        keys: { file: jwks },
        algorithms: keys.map((k) => k.alg),
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:9',
        audience: LOAD_AUDIENCE,
        issuers: ['enterprise'],
      },
    ],
    verification: { cache },
  };
  // JSON is YAML: the same loader the server uses reads it.
  writeFileSync(path, JSON.stringify(config));
  const loaded = m.loadConfigFile(path);
  const compiled = await m.compileConfig(loaded.config, loaded.path);
  const { verification } = loaded.config;
  return new m.TokenVerifier({
    registry: compiled.registry,
    revocations: new m.RevocationMirror(),
    clock: Date.now,
    cache: verification.cache,
    forgeryChecksPerSecond: verification.forgeryChecksPerSecond,
  });
}
