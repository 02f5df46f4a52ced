import { type IncomingHttpHeaders, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from '../verify/auth-failure.js';
import type { VerifiedToken } from '../verify/verify-token.js';
import type { LegLogger } from './proxy-exchange.js';
import { refusalOf, writeRawRefusal } from './refusal-reply.js';
import { upstreamRequestHeaders } from './request-headers.js';
import { clientResponseHeaders } from './response-headers.js';
import type { TunnelRegistry } from './tunnel-registry.js';
import { type UpstreamTarget, upstreamPath } from './upstream-route.js';

export interface TunnelContext {
  readonly registry: TunnelRegistry;
  readonly log: LegLogger;
  /** The client address the pipeline resolved (for the tunnel's event). */
  readonly ip: string;
  /** Headers the pipeline adds to an admitted request's answer (rate limits, a DPoP nonce). */
  readonly headers: ResponseHeaders | undefined;
}

/**
 * Forwards an authorised `Upgrade` request (a WebSocket handshake, say) through the route's
 * pool with undici's upgrade, then joins the two sockets: bytes pass both ways untouched, with
 * backpressure (pipe), until either side closes or the tunnel registry closes both because the
 * credential died. An upstream that declines the upgrade has its answer passed on, and the
 * connection closed after it.
 */
export function openTunnel(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: UpstreamTarget,
  verified: VerifiedToken,
  context: TunnelContext,
): void {
  const pool = target.pool;
  if (pool.busy) {
    writeRawRefusal(socket, refusalOf('upstream_busy', pool.retryAfterSeconds));
    return;
  }
  const protocol = req.headers.upgrade ?? 'websocket';
  const handshake = new Handshake(socket, head, target, verified, context);
  pool.inFlight += 1;
  pool.dispatcher.dispatch(
    {
      path: upstreamPath(target, req.url ?? '/'),
      method: req.method ?? 'GET',
      // Connection and Upgrade are hop-by-hop: undici writes its own from `upgrade`.
      headers: upstreamRequestHeaders(req, verified, target.forwardToken),
      upgrade: protocol,
      body: null,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
    },
    handshake,
  );
}

class Handshake implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private done = false;
  /** Something of the answer has been written to the client. */
  private answered = false;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly target: UpstreamTarget,
    private readonly verified: VerifiedToken,
    private readonly context: TunnelContext,
  ) {
    this.deadline = setTimeout(handshakeTimedOut, target.timeoutMs, this);
    socket.on('error', () => this.abort(new Error('client connection failed')));
    socket.on('close', () => this.abort(new Error('client went away')));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason);
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    upstream: Duplex,
  ): void {
    this.finish();
    const client = this.socket;
    if (client.destroyed || this.answered) {
      upstream.destroy();
      return;
    }
    this.answered = true;
    client.write(
      statusLine(statusCode) + headerLines(upgradeHeaders(headers), this.context.headers) + '\r\n',
    );
    if (this.head.length > 0) upstream.write(this.head);
    for (const s of [client, upstream]) {
      (s as Socket).setNoDelay?.(true);
      (s as Socket).setTimeout?.(0);
    }
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      forget();
      client.destroy();
      upstream.destroy();
    };
    const forget = this.context.registry.add(
      { verified: this.verified, route: this.target.name, ip: this.context.ip },
      close,
    );
    for (const s of [client, upstream]) {
      s.on('close', close);
      s.on('error', close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200 || this.answered) return;
    // The upstream declined the upgrade: its answer goes to the client, then the connection ends
    // (the client may already be sending the protocol it asked for).
    this.answered = true;
    clearTimeout(this.deadline);
    const out = clientResponseHeaders(headers, this.target.location);
    out.connection = 'close';
    this.socket.write(statusLine(statusCode) + headerLines(out, undefined) + '\r\n');
    this.controller = controller;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.socket.write(chunk)) {
      controller.pause();
      this.socket.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.finish();
    this.socket.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finish();
    if (this.socket.destroyed) return;
    if (this.answered) {
      this.socket.destroy();
      return;
    }
    this.answered = true;
    const code = (err as { code?: string }).code;
    const reason =
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      err instanceof HandshakeTimeout
        ? 'upstream_timeout'
        : 'upstream_unavailable';
    this.context.log.warn(
      { event: 'upstream.error', route: this.target.name, err: err.message, upgrade: true },
      'upstream failed',
    );
    writeRawRefusal(this.socket, refusalOf(reason));
  }

  timedOut(): void {
    if (this.done || this.answered) return;
    this.answered = true;
    this.context.log.warn(
      {
        event: 'upstream.error',
        route: this.target.name,
        err: 'no upgrade within timeoutSeconds',
        upgrade: true,
      },
      'upstream failed',
    );
    writeRawRefusal(this.socket, refusalOf('upstream_timeout'));
    this.abort(new HandshakeTimeout('route time-out'));
  }

  private abort(err: Error): void {
    if (this.done) return;
    if (this.controller !== undefined) this.controller.abort(err);
    else this.abortReason = err;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.target.pool.inFlight -= 1;
    clearTimeout(this.deadline);
  }
}

class HandshakeTimeout extends Error {
  override readonly name = 'HandshakeTimeout';
}

function handshakeTimedOut(handshake: Handshake): void {
  handshake.timedOut();
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
}

/**
 * The upstream's 101 headers for the client: Connection and Upgrade are the point of a 101 and
 * stay; the other hop-by-hop fields and whatever else Connection names go.
 */
function upgradeHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const upgrade = headers.upgrade;
  const out = clientResponseHeaders(headers, undefined);
  out.connection = 'Upgrade';
  if (upgrade !== undefined) out.upgrade = upgrade;
  return out;
}

function headerLines(headers: IncomingHttpHeaders, extra: ResponseHeaders | undefined): string {
  let text = '';
  if (extra !== undefined)
    for (const name in extra) if (headers[name] === undefined) text += `${name}: ${extra[name]}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') text += `${name}: ${value}\r\n`;
    else for (const v of value) text += `${name}: ${v}\r\n`;
  }
  return text;
}
