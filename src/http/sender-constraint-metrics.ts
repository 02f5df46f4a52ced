import { Counter, type Registry } from 'prom-client';
import type { ProofOutcomes, SenderConstraint } from '../verify/check-sender-constraint.js';

const OUTCOMES: readonly (readonly [string, keyof Omit<ProofOutcomes, 'refused'>])[] = [
  ['accepted', 'accepted'],
  ['missing', 'missing'],
  ['invalid', 'invalid'],
  ['replayed', 'replayed'],
  ['key_mismatch', 'keyMismatch'],
  ['nonce_required', 'nonceRequired'],
  ['bound_as_bearer', 'boundAsBearer'],
  ['unavailable', 'unavailable'],
];

/** `provgate_dpop_proofs_total{outcome}`: read from plain counters at scrape time. */
export function registerSenderConstraintMetrics(registry: Registry, constraint: SenderConstraint): void {
  new Counter({
    name: 'provgate_dpop_proofs_total',
    help: 'DPoP requests by outcome: accepted, missing (DPoP scheme, no proof), invalid, replayed, key_mismatch, nonce_required, bound_as_bearer (a DPoP-bound token sent as Bearer), unavailable (replay store)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [label, field] of OUTCOMES) this.inc({ outcome: label }, constraint.outcomes[field]);
    },
  });
}
