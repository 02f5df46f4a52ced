import { isSafeKeyUrl } from '../config/schema.js';
import { fetchJson } from '../keys/fetch-json.js';
import type { CompiledTransmitter } from './compile-signals.js';

/** Why a verification could not be asked for; `status` is the admin API's answer. */
export class VerificationRequestError extends Error {
  constructor(
    readonly status: 404 | 409 | 502,
    readonly code: 'unknown_transmitter' | 'no_verification_endpoint' | 'transmitter_refused',
    message: string,
  ) {
    super(message);
    this.name = 'VerificationRequestError';
  }
}

/**
 * POSTs `{stream_id?, state}` to the transmitter's verification endpoint (SSF 1.0 section
 * 8.1.4), with the credential this receiver presents to it. Resolves with the endpoint once it
 * answered 2xx (the spec says 204); the verification SET itself arrives later, by push or poll.
 */
export async function requestVerification(transmitter: CompiledTransmitter, state: string): Promise<string> {
  const target = transmitter.verification;
  const endpoint = target.endpoint ?? (await discoveredEndpoint(transmitter));
  const signal = AbortSignal.timeout(target.timeoutMs);
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      redirect: 'error',
      signal,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(target.authorization === undefined ? {} : { authorization: target.authorization }),
      },
      body: JSON.stringify({
        ...(target.streamId === undefined ? {} : { stream_id: target.streamId }),
        state,
      }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const why = signal.aborted
      ? 'no answer in time'
      : `unreachable${cause === undefined ? '' : ` (${cause})`}`;
    throw new VerificationRequestError(502, 'transmitter_refused', `${endpoint}: ${why}`);
  }
  await res.body?.cancel();
  if (!res.ok)
    throw new VerificationRequestError(502, 'transmitter_refused', `${endpoint}: HTTP ${res.status}`);
  return endpoint;
}

/** `verification_endpoint` of the transmitter's configuration document, read when asked. */
async function discoveredEndpoint(transmitter: CompiledTransmitter): Promise<string> {
  const { configuration, timeoutMs, maxBytes } = transmitter.verification;
  const none = (why: string) =>
    new VerificationRequestError(409, 'no_verification_endpoint', `transmitter ${transmitter.name}: ${why}`);
  if (configuration === undefined)
    throw none('no verificationEndpoint configured and no SSF configuration document to read it from');
  let body: unknown;
  try {
    ({ body } = await fetchJson(configuration, { timeoutMs, maxBytes }));
  } catch (err) {
    throw new VerificationRequestError(502, 'transmitter_refused', (err as Error).message);
  }
  const doc = (body ?? {}) as { issuer?: unknown; verification_endpoint?: unknown };
  // SSF 1.0 section 7.2.4: a document naming another issuer is not this transmitter's.
  if (doc.issuer !== transmitter.iss)
    throw new VerificationRequestError(
      502,
      'transmitter_refused',
      `${configuration}: issuer ${String(doc.issuer)} is not ${transmitter.iss}`,
    );
  const endpoint = doc.verification_endpoint;
  if (typeof endpoint !== 'string') throw none(`${configuration} names no verification_endpoint`);
  if (!URL.canParse(endpoint) || !isSafeKeyUrl(endpoint))
    throw new VerificationRequestError(
      502,
      'transmitter_refused',
      `${configuration}: verification_endpoint must be https (plain http only for a loopback host)`,
    );
  return endpoint;
}
