// Development and tests only: Security Event Tokens signed with a development key, for
// `provgate signals send`, the demo and the transmitter stub of the tests.
import { importJWK, type JWK, SignJWT } from 'jose';
import { EVENT_URIS, type EventName } from './event-types.js';

export interface SetSpec {
  readonly iss: string;
  readonly aud: string | readonly string[];
  /** A known event name (session-revoked) or any event type URI. */
  readonly event: EventName | string;
  /** The top-level `sub_id`; omitted when undefined. */
  readonly subject: Record<string, unknown> | undefined;
  /** Members of the event payload (event_timestamp, change_type, ...). */
  readonly payload?: Record<string, unknown>;
  readonly jti?: string;
  /** Epoch seconds; default now. */
  readonly iat?: number;
  readonly txn?: string;
  /** Claims beside the standard ones (tests add a forbidden `sub` or `exp` this way). */
  readonly extraClaims?: Record<string, unknown>;
}

/** Signs a SET (RFC 8417) with `typ: secevent+jwt`, one event, and a top-level sub_id. */
export async function signSet(
  privateJwk: JWK,
  spec: SetSpec,
  options: { header?: Record<string, unknown> } = {},
): Promise<string> {
  const alg = (options.header?.alg as string | undefined) ?? privateJwk.alg;
  if (alg === undefined) throw new Error('the private key names no alg');
  const key = await importJWK(privateJwk, alg);
  const uri = (EVENT_URIS as Record<string, string>)[spec.event] ?? spec.event;
  const claims: Record<string, unknown> = {
    iss: spec.iss,
    aud: spec.aud,
    iat: spec.iat ?? Math.floor(Date.now() / 1000),
    jti: spec.jti ?? crypto.randomUUID(),
    ...(spec.txn === undefined ? {} : { txn: spec.txn }),
    ...(spec.subject === undefined ? {} : { sub_id: spec.subject }),
    events: { [uri]: spec.payload ?? {} },
    ...spec.extraClaims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: privateJwk.kid, typ: 'secevent+jwt', ...options.header })
    .sign(key);
}

/**
 * A subject as an operator types it: `alice` or `user:alice` (iss_sub under `iss`),
 * `email:a@example.test`, `session:<sid>`, `jwt:<jti>` (jwt_id under `iss`), `opaque:<id>`.
 */
export function subjectFromText(text: string, iss: string): Record<string, unknown> {
  const colon = text.indexOf(':');
  const kind = colon === -1 ? 'user' : text.slice(0, colon);
  const value = colon === -1 ? text : text.slice(colon + 1);
  if (value === '') throw new Error(`subject ${text}: nothing after the colon`);
  switch (kind) {
    case 'user':
      return { format: 'iss_sub', iss, sub: value };
    case 'email':
      return { format: 'email', email: value };
    case 'session':
      return { format: 'complex', session: { format: 'opaque', id: value } };
    case 'jwt':
      return { format: 'jwt_id', iss, jti: value };
    case 'opaque':
      return { format: 'opaque', id: value };
    default:
      throw new Error(`subject ${text}: use user:, email:, session:, jwt: or opaque:`);
  }
}
