/**
 * The error codes of the IANA "Security Event Token Error Codes" registry (RFC 8935 section 2.4),
 * plus SSF's `invalid_state`. A push answers them as `400 {"err", "description"}`; a poll
 * reports them in `setErrs`, so the transmitter learns why a SET was refused either way.
 */
export const SET_ERRORS = [
  'invalid_request',
  'invalid_key',
  'invalid_issuer',
  'invalid_audience',
  'authentication_failed',
  'access_denied',
  'invalid_state',
] as const;

export type SetErrorCode = (typeof SET_ERRORS)[number];

/** A SET refused for good: the transmitter must not send it again as it is. */
export class SetError extends Error {
  constructor(
    readonly err: SetErrorCode,
    readonly description: string,
  ) {
    super(`${err}: ${description}`);
    this.name = 'SetError';
  }
}
