import type { IssuerRegistry } from '../keys/issuer-registry.js';
import { keyStateOf } from '../keys/key-state.js';
import type { TrustIndex } from '../keys/trust-index.js';
import type { AncestorFacts } from '../lineage/lineage-record.js';
import type { RevocationMirror } from '../revocation/revocation-mirror.js';

/** Why an ancestor of a minted token no longer stands: the `rule` of a parent_revoked refusal. */
export type AncestorRule =
  | 'token_revoked'
  | 'session_revoked'
  | 'subject_revoked'
  | 'issuer_revoked'
  | 'issuer_unknown'
  | 'key_unknown'
  | 'key_revoked'
  | 'key_inactive'
  | 'key_quarantined'
  | 'parent_expired';

/**
 * Whether a token that something was minted from still stands, judged as the token itself would
 * be now: not revoked by jti, session, subject or issuer; its issuer configured; the key that
 * signed it still in that issuer's set (same material), trusted, active and not revoked; not
 * expired. Undefined while it stands. No I/O: mirrors and the key sets in force.
 */
export function ancestorRule(
  a: AncestorFacts,
  revocations: RevocationMirror,
  registry: IssuerRegistry,
  trust: TrustIndex | undefined,
  nowMs: number,
): AncestorRule | undefined {
  if (a.jti !== undefined && revocations.isTokenRevoked(a.issuer, a.jti, nowMs)) return 'token_revoked';
  if (a.sid !== undefined && revocations.isSessionRevoked(a.issuer, a.sid, nowMs)) return 'session_revoked';
  const subjectBefore = revocations.subjectRevokedBefore(a.issuer, a.sub);
  if (subjectBefore !== undefined && a.iat < subjectBefore) return 'subject_revoked';
  const issuerBefore = revocations.issuerRevokedBefore(a.issuer);
  if (issuerBefore !== undefined && a.iat < issuerBefore) return 'issuer_revoked';
  const issuer = registry.byId.get(a.issuer);
  if (issuer === undefined) return 'issuer_unknown';
  const key = issuer.keys.byKid.get(a.kid);
  // Gone from the set, or the kid now names other key material: the key that signed it is gone.
  if (key === undefined || key.thumbprint !== a.keyThumbprint) return 'key_unknown';
  const view = trust === undefined ? undefined : { index: trust, policy: issuer.trust };
  const state = keyStateOf(key, revocations, nowMs, view);
  if (state === 'revoked') return 'key_revoked';
  if (state === 'inactive') return 'key_inactive';
  if (state === 'quarantined') return 'key_quarantined';
  if ((a.exp + issuer.clockSkewSeconds) * 1000 <= nowMs) return 'parent_expired';
  return undefined;
}
