import type { Config } from './schema.js';

/** The largest clock skew of any issuer: a revoked token is remembered this long past its exp. */
export function maxClockSkewSeconds(config: Config): number {
  return Math.max(...Object.values(config.issuers).map((i) => i.clockSkewSeconds));
}
