import { z } from 'zod';
import type { RevocationSpec } from './revocation-record.js';

const instant = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 instant' });
const text = z.string().min(1).max(512);

/** What an operator may ask for through the admin API or the CLI; one schema for both. */
export const revocationRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('key'),
    issuer: text,
    kid: text,
    reason: text.optional(),
    by: text.optional(),
  }),
  z.strictObject({
    kind: z.literal('token'),
    issuer: text,
    jti: text,
    exp: z.number().int().positive().optional(),
    reason: text.optional(),
    by: text.optional(),
  }),
  z.strictObject({
    kind: z.literal('subject'),
    issuer: text,
    sub: text,
    before: instant,
    reason: text.optional(),
    by: text.optional(),
  }),
  z.strictObject({
    kind: z.literal('issuer'),
    issuer: text,
    before: instant,
    reason: text.optional(),
    by: text.optional(),
  }),
]);

export type RevocationRequest = z.infer<typeof revocationRequestSchema>;

export function specOf(request: RevocationRequest): RevocationSpec {
  switch (request.kind) {
    case 'key':
      return { kind: 'key', issuer: request.issuer, kid: request.kid };
    case 'token':
      return { kind: 'token', issuer: request.issuer, jti: request.jti, exp: request.exp };
    case 'subject':
      return { kind: 'subject', issuer: request.issuer, sub: request.sub, before: request.before };
    case 'issuer':
      return { kind: 'issuer', issuer: request.issuer, before: request.before };
  }
}
