import { type CompiledIssuer, keySetOf } from '../../src/keys/issuer-registry.js';

/** The enterprise issuer of the reference configuration. */
export const ENTERPRISE_ISS = 'https://login.example.test/enterprise/v2.0';

/**
 * An issuer as config compilation hands it to the pipeline, built by hand for unit tests:
 * the enterprise identity provider on ES256 with a 60 s skew, no lifetime bound, no `typ`,
 * no tenant list and an empty loaded key set, each overridable.
 */
export function compiledIssuer(overrides: Partial<CompiledIssuer> = {}): CompiledIssuer {
  return {
    id: 'enterprise',
    iss: ENTERPRISE_ISS,
    role: 'identity-provider',
    algorithms: new Set(['ES256'] as const),
    clockSkewSeconds: 60,
    maxTokenLifetimeSeconds: undefined,
    requireTyp: undefined,
    tenants: undefined,
    keys: keySetOf([]),
    ...overrides,
  };
}
