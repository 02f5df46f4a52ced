// A tiny RFC 6455 peer on both ends, enough for tests of tunnels: the opening handshake, and
// unfragmented text frames (masked from the client, as §5.3 requires). Real sockets, no library.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const acceptOf = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** One text frame; `mask` for a client's (RFC 6455 §5.3). */
export function textFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const length = payload.length;
  const head =
    length < 126 ? Buffer.from([0x81, length]) : Buffer.from([0x81, 126, length >> 8, length & 0xff]);
  if (!mask) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, key, masked]);
}

/** Reads the text frames in `buffer`; returns them and the bytes of an incomplete last frame. */
function readFrames(buffer: Buffer): { texts: string[]; rest: Buffer } {
  const texts: string[] = [];
  let at = 0;
  while (buffer.length - at >= 2) {
    const masked = (buffer[at + 1]! & 0x80) !== 0;
    let length = buffer[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length - at < 4) break;
      length = buffer.readUInt16BE(at + 2);
      offset = at + 4;
    }
    const keyAt = offset;
    if (masked) offset += 4;
    if (buffer.length < offset + length) break;
    let payload = buffer.subarray(offset, offset + length);
    if (masked) {
      const key = buffer.subarray(keyAt, keyAt + 4);
      payload = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
    }
    if ((buffer[at]! & 0x0f) === 1) texts.push(payload.toString('utf8'));
    at = offset + length;
  }
  return { texts, rest: buffer.subarray(at) };
}

export interface WebSocketUpstream {
  readonly url: string;
  /** Request headers of every upgrade that reached it, by path. */
  readonly handshakes: Map<string, IncomingHttpHeaders>;
  /** Open server-side sockets. */
  readonly open: Set<Duplex>;
  close(): Promise<void>;
}

/**
 * A WebSocket upstream on node:http's `upgrade` event: it answers the handshake and echoes each
 * text message as `echo:<text>`. A path ending in `/decline` is answered 403 instead.
 */
export async function startWebSocketUpstream(): Promise<WebSocketUpstream> {
  const handshakes = new Map<string, IncomingHttpHeaders>();
  const open = new Set<Duplex>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('upgrade required');
  });
  server.on('upgrade', (req, socket, head) => {
    const path = req.url ?? '/';
    handshakes.set(path, req.headers);
    if (path.endsWith('/decline')) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\ndeclined');
      return;
    }
    const key = req.headers['sec-websocket-key'] as string;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`,
    );
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.from(head);
    const onData = (chunk: Buffer) => {
      const { texts, rest } = readFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const text of texts) socket.write(textFrame(`echo:${text}`, false));
    };
    socket.on('data', onData);
    if (pending.length > 0) onData(Buffer.alloc(0));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handshakes,
    open,
    close: async () => {
      for (const socket of open) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface WebSocketClient {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The body of a refusal (when status is not 101). */
  readonly body: string;
  readonly socket: Socket;
  /** Text messages received so far. */
  readonly messages: string[];
  send(text: string): void;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** Opens a WebSocket to `url` (http://...) with extra request headers; resolves after the handshake answer. */
export function connectWebSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<WebSocketClient> {
  const target = new URL(url);
  const key = randomBytes(16).toString('base64');
  const socket = connect(Number(target.port), target.hostname);
  const lines = [
    `GET ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let isClosed = false;
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      isClosed = true;
      resolve();
    });
  });
  socket.on('error', () => socket.destroy());
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    let client: WebSocketClient | undefined;
    const messages: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (client === undefined) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const parsed: Record<string, string> = {};
        for (const line of headerLines) {
          const colon = line.indexOf(':');
          parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const status = Number(statusLine!.split(' ')[1]);
        buffer = buffer.subarray(end + 4);
        if (status === 101 && parsed['sec-websocket-accept'] !== acceptOf(key)) {
          reject(new Error('bad Sec-WebSocket-Accept'));
          return;
        }
        client = {
          status,
          headers: parsed,
          get body() {
            return status === 101 ? '' : buffer.toString('utf8');
          },
          socket,
          messages,
          send: (text) => socket.write(textFrame(text, true)),
          closed,
          isClosed: () => isClosed,
        };
        if (status !== 101) {
          // A refusal: its body follows until the server closes.
          void closed.then(() => resolve(client!));
          return;
        }
        resolve(client);
      }
      if (client.status === 101) {
        const { texts, rest } = readFrames(buffer);
        buffer = Buffer.from(rest);
        messages.push(...texts);
      }
    });
    socket.once('close', () => {
      if (client === undefined) reject(new Error('closed before an answer'));
    });
  });
}
