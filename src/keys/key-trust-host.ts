import type { KeyScreening } from './screen-new-keys.js';
import type { TrustIndex } from './trust-index.js';

/**
 * What the key sets need of the trust decisions, which live in the store above this layer
 * (src/trust/trust-service.ts implements it): the index to screen against, and where the
 * screening's decisions go. `record` applies them to the index at once (the set that needs them
 * is installed in the same turn) and owes them to the store until it has them.
 */
export interface KeyTrustHost {
  readonly index: TrustIndex;
  record(issuerId: string, screening: KeyScreening): void;
}
