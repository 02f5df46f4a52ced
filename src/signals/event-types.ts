// The event types this receiver knows, by URI. An event type not listed here is acknowledged
// and logged, never guessed at (RFC 8417 section 2.2; SSF 1.0 section 4.2.3).

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/';

export const EVENT_URIS = {
  'session-revoked': `${CAEP}session-revoked`,
  'token-claims-change': `${CAEP}token-claims-change`,
  'credential-change': `${CAEP}credential-change`,
  'assurance-level-change': `${CAEP}assurance-level-change`,
  'device-compliance-change': `${CAEP}device-compliance-change`,
  'risk-level-change': `${CAEP}risk-level-change`,
  'session-established': `${CAEP}session-established`,
  'session-presented': `${CAEP}session-presented`,
  'account-disabled': `${RISC}account-disabled`,
  'account-enabled': `${RISC}account-enabled`,
  'account-purged': `${RISC}account-purged`,
  'credential-compromise': `${RISC}credential-compromise`,
  'sessions-revoked': `${RISC}sessions-revoked`,
  verification: `${SSF}verification`,
  'stream-updated': `${SSF}stream-updated`,
} as const;

export type EventName = keyof typeof EVENT_URIS;

/** Every label value the SET counter may carry for `event`: the known names, and two more. */
export const EVENT_LABELS: readonly string[] = [...Object.keys(EVENT_URIS), 'unknown', 'none'];

const BY_URI: ReadonlyMap<string, EventName> = new Map(
  Object.entries(EVENT_URIS).map(([name, uri]) => [uri, name as EventName]),
);

/** The short name of a known event type URI, or undefined. */
export function eventNameOf(uri: string): EventName | undefined {
  return BY_URI.get(uri);
}

/** The events whose state (a level, a status) `signals.blockOn` may block on. */
export const BLOCKING_EVENTS = [
  'risk-level-change',
  'device-compliance-change',
  'assurance-level-change',
] as const;
export type BlockingEvent = (typeof BLOCKING_EVENTS)[number];
