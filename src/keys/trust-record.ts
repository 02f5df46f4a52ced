/**
 * What the gateway has decided about one key of one issuer, shared by every instance (the
 * store, src/trust/) and read from memory on the request path (TrustIndex). A decision names the
 * key's RFC 7638 thumbprint, not only its kid: a different key later published under the same
 * kid has no decision, so it is new and quarantined again.
 */
export interface TrustRecord {
  /** `<issuer id>:<thumbprint>` (trustRecordId). */
  readonly id: string;
  readonly issuer: string;
  /** The kid it was published under when decided (for people; the thumbprint decides). */
  readonly kid: string;
  readonly thumbprint: string;
  /**
   * `quarantined`: seen, not trusted yet (a soak time may trust it by itself); `trusted`: an
   * operator, the first load or a soak trusted it; `distrusted`: an operator refused it.
   */
  readonly state: TrustState;
  /** Epoch ms the key was first seen (quarantined) or decided; a soak counts from it. */
  readonly since: number;
  /** When this record was written, ISO 8601. */
  readonly at: string;
  /** Who decided: an operator's `sub`, `static-token`, `first-load`, `soak`, `refresh`. */
  readonly by: string;
  /** The operator token's issuer id, when an operator decided. */
  readonly byIssuer?: string | undefined;
  readonly note?: string | undefined;
  readonly alg?: string | undefined;
  /** The subject of the key's x5c leaf certificate, when it publishes one. */
  readonly x5cSubject?: string | undefined;
  /** Trust records never expire by themselves (MirroredRecord). */
  readonly expiresAt?: undefined;
}

export type TrustState = 'quarantined' | 'trusted' | 'distrusted';

export function trustRecordId(issuer: string, thumbprint: string): string {
  // An issuer id is letters, digits, dot, dash and underscore; a thumbprint is base64url: the
  // colon cannot occur in either, so the id names one pair.
  return `${issuer}:${thumbprint}`;
}
