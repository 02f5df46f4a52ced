import { z } from 'zod';
import {
  issuerRevocationSchema,
  keyRevocationSchema,
  revocationReason,
  subjectRevocationSchema,
  tokenRevocationSchema,
} from '../config/schema.js';

// What the caller says beyond what is revoked: why, and (for the audit trail) who.
const facts = { reason: revocationReason.optional(), by: revocationReason.optional() };

/**
 * What an operator may ask for through the admin API or the CLI: the config's kinds of revocation
 * (the same schemas as the file's `revocations:` lists), with a reason and who asked.
 */
export const revocationRequestSchema = z.discriminatedUnion('kind', [
  keyRevocationSchema.extend(facts),
  tokenRevocationSchema.extend(facts),
  subjectRevocationSchema.extend(facts),
  issuerRevocationSchema.extend(facts),
]);

export type RevocationRequest = z.infer<typeof revocationRequestSchema>;
