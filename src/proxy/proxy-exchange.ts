import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { VerifiedToken } from '../verify/verify-token.js';
import { type LegReason, writeLegRefusal } from './leg-refusal.js';
import type { ResponseCapture } from './mint-capture.js';
import { upstreamRequestHeaders } from './request-headers.js';
import { clientResponseHeaders } from './response-headers.js';
import { bodyUnread } from './unread-body.js';
import { type UpstreamTarget, upstreamPath } from './upstream-route.js';

/** What the leg logs: upstream failures, and requests it cut off. */
export interface LegLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

// Where an exchange stands, seen from the client's side.
const WAITING = 0; // nothing sent to the client yet
const STREAMING = 1; // the upstream's status and headers are out; its body follows
const REFUSED = 2; // the leg answered by itself (time-out, stalled body, upstream failure)
const CAPTURING = 3; // a capture holds the answer (a minting route's token answer: mint-capture.ts)

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

class UpstreamTimeout extends Error {
  override readonly name = 'UpstreamTimeout';
}
class BodyStalled extends Error {
  override readonly name = 'BodyStalled';
}
class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

/**
 * Forwards one authorised request to its route's upstream and the answer back, through undici's
 * dispatcher API: the request body is the client's own stream (undici pauses and resumes it as
 * the upstream socket drains), and the response is written chunk by chunk straight to the raw
 * response, pausing undici when the client's socket is full. Nothing is buffered or parsed.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: UpstreamTarget,
  auth: VerifiedToken | null,
  log: LegLogger,
  capture?: ResponseCapture,
): void {
  const pool = target.pool;
  if (pool.busy) {
    log.warn({ event: 'upstream.busy', route: target.name, inFlight: pool.inFlight }, 'upstream busy');
    writeLegRefusal(req, res, 'upstream_busy', pool.retryAfterSeconds);
    return;
  }
  const hasBody = bodyUnread(req);
  const exchange = new Exchange(req, res, target, log, hasBody, capture);
  pool.inFlight += 1;
  pool.dispatcher.dispatch(
    {
      path: upstreamPath(target, req.url ?? '/'),
      method: req.method ?? 'GET',
      headers: upstreamRequestHeaders(req, auth, target.forwardToken),
      body: hasBody ? req : null,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
    },
    exchange,
  );
}

class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set when the leg gave up before undici had a connection for the request. */
  private abortReason: Error | undefined;
  private state = WAITING;
  /** undici is done with the request (ended or failed). */
  private ended = false;
  private started = false;
  private readonly deadline: NodeJS.Timeout;
  private idle: NodeJS.Timeout | undefined;
  private lastRead = -1;
  private lastProgressAt = 0;
  private onDrain: (() => void) | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly target: UpstreamTarget,
    private readonly log: LegLogger,
    private readonly hasBody: boolean,
    private readonly capture: ResponseCapture | undefined,
  ) {
    // From authorisation to the upstream's response headers: the wait for a connection, the
    // upload and the upstream's own time all count (undici's time-outs start later).
    this.deadline = setTimeout(deadlinePassed, target.timeoutMs, this);
    res.on('close', () => this.clientClosed());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) {
      controller.abort(this.abortReason);
      return;
    }
    if (this.started) return;
    this.started = true;
    if (!this.hasBody) return;
    // The client was told to wait (Expect: 100-continue): it may send now that the request is
    // authorised and on its way to the upstream.
    if (this.req.headers.expect !== undefined) this.res.writeContinue();
    this.lastProgressAt = performance.now();
    const every = Math.max(50, this.target.bodyIdleTimeoutMs / 4);
    this.idle = setTimeout(checkBodyIdle, every, this);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx are interim answers to the gateway's own request (100 is answered here, 103 dropped).
    if (statusCode < 200 || this.state !== WAITING) return;
    this.state = STREAMING;
    clearTimeout(this.deadline);
    clientResponseHeaders(headers, this.target.location);
    // The upstream answered before the whole body arrived: this connection cannot be reused.
    if (bodyUnread(this.req)) headers.connection = 'close';
    // Nothing of it is sent until the capture has read it all and decided.
    if (this.capture?.begin(statusCode, headers) === true) {
      this.state = CAPTURING;
      return;
    }
    try {
      this.res.writeHead(statusCode, headers);
    } catch (err) {
      this.log.warn(
        { event: 'upstream.error', route: this.target.name, err: (err as Error).message },
        'upstream response not forwardable',
      );
      this.res.destroy();
      this.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.state === CAPTURING) {
      const step = this.capture!.data(chunk);
      if (step === 'stream') this.state = STREAMING;
      else if (step === 'refused') {
        this.state = REFUSED;
        this.abort(new Error('answer refused by its capture'));
      }
      return;
    }
    if (this.state !== STREAMING) return;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.onDrain ??= () => this.controller?.resume();
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    this.finish();
    if (this.state === STREAMING) this.res.end();
    else if (this.state === CAPTURING) this.capture!.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finish();
    if (this.state === STREAMING) {
      // Mid-body: the client must see a broken response, never a short one that looks whole.
      if (!this.res.writableEnded) {
        this.log.warn(
          { event: 'upstream.error', route: this.target.name, err: err.message },
          'upstream failed mid-response',
        );
        this.res.destroy();
      }
      return;
    }
    if (this.state === REFUSED || this.res.destroyed) return;
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_INVALID_ARG') {
      // Something in the client's request undici will not send (a header value, a path).
      this.state = REFUSED;
      this.log.info({ err: { message: err.message } }, 'bad request');
      const body = '{"error":"bad_request"}';
      this.res.writeHead(400, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
        ...(bodyUnread(this.req) ? { connection: 'close' } : {}),
      });
      this.res.end(body);
      return;
    }
    const reason =
      err instanceof UpstreamTimeout || (code !== undefined && TIMEOUT_CODES.has(code))
        ? 'upstream_timeout'
        : 'upstream_unavailable';
    this.log.warn({ event: 'upstream.error', route: this.target.name, err: err.message }, 'upstream failed');
    this.refuse(reason, err);
  }

  /** The route's time-out passed before the upstream's headers came. */
  deadlinePassed(): void {
    if (this.state !== WAITING || this.ended) return;
    this.log.warn(
      { event: 'upstream.error', route: this.target.name, err: 'no response headers within timeoutSeconds' },
      'upstream failed',
    );
    this.refuse('upstream_timeout', new UpstreamTimeout('route time-out'));
  }

  /** Called every quarter of the idle time-out while the client's body is being forwarded. */
  checkBodyIdle(): void {
    const req = this.req;
    if (this.ended || req.complete || this.state === REFUSED) return;
    const now = performance.now();
    const read = req.socket?.bytesRead ?? 0;
    // A body undici is not reading (the upstream is slow, or no connection yet) is not stalled
    // by the client: only time spent waiting for the client's next bytes counts.
    if (read !== this.lastRead || req.readableFlowing !== true) {
      this.lastRead = read;
      this.lastProgressAt = now;
    } else if (now - this.lastProgressAt >= this.target.bodyIdleTimeoutMs) {
      this.bodyStalled();
      return;
    }
    this.idle?.refresh();
  }

  private bodyStalled(): void {
    this.log.info(
      { event: 'request.body_timeout', route: this.target.name, bytesRead: this.req.socket?.bytesRead },
      'request body stalled',
    );
    const err = new BodyStalled('request body idle');
    if (this.state === STREAMING) {
      this.res.destroy();
      this.abort(err);
      return;
    }
    this.refuse('body_timeout', err);
  }

  /** Answers the client by itself; the upstream request is abandoned once that answer is out. */
  private refuse(reason: LegReason, err: Error): void {
    this.state = REFUSED;
    clearTimeout(this.deadline);
    if (this.res.destroyed || this.res.headersSent) {
      this.abort(err);
      return;
    }
    // Aborting may destroy the client's socket (undici destroys an unfinished request body), so
    // the answer goes first.
    writeLegRefusal(this.req, this.res, reason, undefined, () => this.abort(err));
  }

  private abort(err: Error): void {
    if (this.ended) return;
    if (this.controller !== undefined) this.controller.abort(err);
    else this.abortReason = err;
  }

  private clientClosed(): void {
    if (this.res.writableFinished) return;
    clearTimeout(this.deadline);
    this.abort(new ClientGone('client went away'));
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.target.pool.inFlight -= 1;
    clearTimeout(this.deadline);
    if (this.idle !== undefined) clearTimeout(this.idle);
  }
}

function deadlinePassed(exchange: Exchange): void {
  exchange.deadlinePassed();
}

function checkBodyIdle(exchange: Exchange): void {
  exchange.checkBodyIdle();
}
