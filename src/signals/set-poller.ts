import type { Logger } from 'pino';
import type { CompiledTransmitter } from './compile-signals.js';
import type { SetErrorCode } from './set-error.js';
import type { SetOutcome } from './signal-receiver.js';

export interface PollerDeps {
  readonly transmitter: CompiledTransmitter;
  readonly receive: (raw: string, jti: string) => Promise<SetOutcome>;
  readonly logger: Logger;
  readonly clock: () => number;
}

// An answer larger than this is refused unread: a poll batch is a few SETs, not megabytes.
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
// The first wait after an error; it doubles up to maxBackoffSeconds.
const MIN_BACKOFF_MS = 500;

interface PollResponse {
  readonly sets: Record<string, string>;
  readonly moreAvailable: boolean;
}

/**
 * RFC 8936 poll delivery for one transmitter. A SET is acknowledged only once it is applied and
 * stored (or known to be applied already, or acknowledged without effect); refused ones go back
 * as `setErrs`; one the store could not take is neither, so the transmitter serves it again. A
 * restart in the middle of a batch therefore loses nothing: what was not acknowledged comes
 * again, and what was applied but not yet acknowledged is recognised by its jti and acknowledged.
 */
export class SetPoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private acks: string[] = [];
  private errs: Record<string, { err: SetErrorCode; description: string }> = {};
  private consecutiveFailures = 0;
  private lastPollAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private lastError: string | undefined;
  private nextPollAt: number | undefined;

  constructor(private readonly deps: PollerDeps) {}

  get transmitter(): CompiledTransmitter {
    return this.deps.transmitter;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Ends the loop: a request in flight is aborted, a batch in progress stops before its next SET. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
  }

  status() {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    return {
      url: this.deps.transmitter.poll?.url,
      lastPollAt: iso(this.lastPollAt),
      lastSuccessAt: iso(this.lastSuccessAt),
      lastError: this.lastError,
      consecutiveFailures: this.consecutiveFailures,
      nextPollAt: iso(this.nextPollAt),
      pendingAcks: this.acks.length,
    };
  }

  private async run(): Promise<void> {
    const poll = this.deps.transmitter.poll!;
    while (this.running) {
      let delayMs = poll.intervalSeconds * 1000;
      try {
        const again = await this.pollOnce();
        this.consecutiveFailures = 0;
        this.lastError = undefined;
        if (again) delayMs = 0;
      } catch (err) {
        if (!this.running) break;
        this.consecutiveFailures += 1;
        this.lastError = (err as Error).message;
        delayMs = Math.min(
          poll.maxBackoffSeconds * 1000,
          Math.max(MIN_BACKOFF_MS, poll.intervalSeconds * 1000) * 2 ** (this.consecutiveFailures - 1),
        );
        this.deps.logger.warn(
          {
            event: 'signal.poll_failed',
            transmitter: this.deps.transmitter.name,
            error: this.lastError,
            consecutiveFailures: this.consecutiveFailures,
            retryInMs: delayMs,
          },
          `polling ${this.deps.transmitter.name} failed: ${this.lastError}`,
        );
      }
      if (this.running && delayMs > 0) await this.sleep(delayMs);
    }
    this.nextPollAt = undefined;
  }

  /** One request and its batch; true when the transmitter has more, or acknowledgements are due. */
  private async pollOnce(): Promise<boolean> {
    const { transmitter } = this.deps;
    const poll = transmitter.poll!;
    const ack = [...this.acks];
    const setErrs = { ...this.errs };
    this.lastPollAt = this.deps.clock();
    const response = await this.request({ maxEvents: poll.maxEvents, returnImmediately: true, ack, setErrs });
    // Delivered: these need not be sent again (RFC 8936 section 2.4).
    this.acks = this.acks.filter((jti) => !ack.includes(jti));
    for (const jti of Object.keys(setErrs)) delete this.errs[jti];
    this.lastSuccessAt = this.deps.clock();
    for (const [jti, raw] of Object.entries(response.sets)) {
      if (!this.running) return false;
      if (typeof raw !== 'string') {
        this.errs[jti] = { err: 'invalid_request', description: 'not a compact JWS string' };
        continue;
      }
      const outcome = await this.deps.receive(raw, jti);
      if (outcome.status === 'unavailable') {
        // The rest of the batch stays unacknowledged: the transmitter serves it again.
        throw new Error(
          `SET not applied (${outcome.why}); the batch is left for the transmitter to serve again`,
        );
      }
      if (outcome.status === 'refused') {
        this.errs[jti] = { err: outcome.error.err, description: outcome.error.description };
        continue;
      }
      this.acks.push(jti);
    }
    return response.moreAvailable || this.acks.length > 0 || Object.keys(this.errs).length > 0;
  }

  private async request(body: unknown): Promise<PollResponse> {
    const poll = this.deps.transmitter.poll!;
    this.abort = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(poll.timeoutSeconds * 1000)]);
    let res: Response;
    try {
      res = await fetch(poll.url, {
        method: 'POST',
        redirect: 'error',
        signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(poll.authorization === undefined ? {} : { authorization: poll.authorization }),
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Error(
        signal.aborted ? 'no answer in time' : `unreachable${cause === undefined ? '' : ` (${cause})`}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > MAX_RESPONSE_BYTES) {
      await res.body?.cancel();
      throw new Error('answer too large');
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new Error('answer too large');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('answer is not JSON');
    }
    const sets = (parsed as { sets?: unknown } | null)?.sets;
    if (sets === null || typeof sets !== 'object' || Array.isArray(sets))
      throw new Error('answer has no sets object');
    return {
      sets: sets as Record<string, string>,
      moreAvailable: (parsed as { moreAvailable?: unknown }).moreAvailable === true,
    };
  }

  private sleep(ms: number): Promise<void> {
    this.nextPollAt = this.deps.clock() + ms;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
