// Real verified tokens and compiled routes for the unit tests of the pipeline steps, without I/O:
// ES256 dev keys made once, a TokenVerifier on a fixed clock, routes compiled from the schema.
import type { JWTPayload } from 'jose';
import { type CompiledRoute, compileRoutes } from '../../src/config/compile-routes.js';
import { configSchema } from '../../src/config/schema.js';
import { generateDevKey, jwksOf, mintToken } from '../../src/demo/dev-keys.js';
import { IssuerRegistry, keySetOf } from '../../src/keys/issuer-registry.js';
import type { KeyRefetcher } from '../../src/keys/key-refetch.js';
import { importJwks } from '../../src/keys/load-jwks.js';
import { RevocationMirror } from '../../src/revocation/revocation-mirror.js';
import { TokenVerifier, type VerifiedToken } from '../../src/verify/verify-token.js';
import { compiledIssuer, ENTERPRISE_ISS } from './compiled-issuer.js';

/** 2024-06-01T00:00:00Z: no test sleeps, the clock is a number. */
export const NOW_S = 1_717_200_000;
export const NOW_MS = NOW_S * 1000;
export const AUDIENCE = 'https://mail.example.test';
export const OWA_ISS = 'https://owa.example.test/';

export interface TokenFixture {
  readonly verifier: TokenVerifier;
  /** The mirror the verifier reads key revocations from, and the steps after it the rest. */
  readonly revocations: RevocationMirror;
  /** The issuers the verifier knows: enterprise and owa, one ES256 key each. */
  readonly registry: IssuerRegistry;
  /** Signs for `enterprise` (identity provider) or `owa` (resource issuer), issued a minute ago. */
  sign(claims?: JWTPayload, issuer?: 'enterprise' | 'owa', kid?: string): Promise<string>;
  /** A token signed and verified: what every step after verification receives. */
  verified(claims?: JWTPayload, issuer?: 'enterprise' | 'owa'): Promise<VerifiedToken>;
}

export async function tokenFixture(options: { keyRefetch?: KeyRefetcher } = {}): Promise<TokenFixture> {
  const [enterprise, owa] = await Promise.all([
    generateDevKey('ES256', 'ent-1'),
    generateDevKey('ES256', 'owa-1'),
  ]);
  const entKeys = await importJwks(jwksOf([enterprise]), 'enterprise', {}, 'issuers.enterprise.keys');
  const owaKeys = await importJwks(jwksOf([owa]), 'owa', {}, 'issuers.owa.keys');
  const registry = new IssuerRegistry([
    compiledIssuer({ keys: keySetOf(entKeys.keys) }),
    compiledIssuer({ id: 'owa', iss: OWA_ISS, role: 'resource', keys: keySetOf(owaKeys.keys) }),
  ]);
  const revocations = new RevocationMirror();
  const verifier = new TokenVerifier({
    registry,
    revocations,
    clock: () => NOW_MS,
    // Cached from the first sighting, so that a test can hold the very object a request got.
    cache: { enabled: true, maxEntries: 1000, maxBytes: 10_000_000, admission: 'first-sighting' },
    forgeryChecksPerSecond: 10,
    ...(options.keyRefetch === undefined ? {} : { keyRefetch: options.keyRefetch }),
  });
  const sign = (claims: JWTPayload = {}, issuer: 'enterprise' | 'owa' = 'enterprise', kid?: string) => {
    const key = issuer === 'enterprise' ? enterprise : owa;
    const iss = issuer === 'enterprise' ? ENTERPRISE_ISS : OWA_ISS;
    const header = kid === undefined ? {} : { header: { kid } };
    return mintToken(
      key.privateJwk,
      { iss, sub: 'alice', aud: AUDIENCE, ...claims },
      { now: NOW_S - 60, ...header },
    );
  };
  return {
    verifier,
    revocations,
    registry,
    sign,
    verified: async (claims, issuer) => verifier.verify(await sign(claims, issuer)),
  };
}

/**
 * One route as configuration compilation makes it: `mail` on /api/mail for the enterprise
 * issuer and the mail audience, with `overrides` in the configuration's own terms.
 */
export function compiledRoute(overrides: Record<string, unknown> = {}): CompiledRoute {
  const config = configSchema.parse({
    issuers: {
      enterprise: {
        issuer: ENTERPRISE_ISS,
        role: 'identity-provider',
        keys: { file: 'unused.jwks.json' },
        algorithms: ['ES256'],
      },
      owa: { issuer: OWA_ISS, role: 'resource', keys: { file: 'unused.jwks.json' }, algorithms: ['ES256'] },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream: 'http://127.0.0.1:9',
        audience: AUDIENCE,
        issuers: ['enterprise'],
        ...overrides,
      },
    ],
  });
  const problems: string[] = [];
  const [route] = compileRoutes(config, problems);
  if (route === undefined || problems.length > 0) throw new Error(`bad test route: ${problems.join('; ')}`);
  return route;
}
