// A client connection driven byte by byte: what a test needs to see the exchange itself (an
// interim `100 Continue`, when the server closes, how much of a body it let through), which an
// HTTP client library hides.
import { connect, type Socket } from 'node:net';
import { waitFor } from './poll.js';

export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Whether the server ended or reset the connection. */
  closed(): boolean;
  /** Resolves once `predicate` holds for what was received (or rejects after `timeoutMs`). */
  until(predicate: (text: string) => boolean, timeoutMs?: number, message?: string): Promise<void>;
  /** Writes `bytes` in 64 KiB pieces as fast as the socket takes them, stopping when it closes. */
  send(bytes: number): Promise<number>;
  close(): void;
}

/** Opens a TCP connection to the host and port of `baseUrl`. */
export async function openRaw(baseUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const onClosed = () => {
    closed = true;
  };
  socket.on('end', onClosed);
  socket.on('close', onClosed);
  socket.on('error', onClosed);
  return {
    socket,
    received: () => text,
    closed: () => closed,
    until: async (predicate, timeoutMs = 3000, message = 'the expected bytes') => {
      await waitFor(() => predicate(text), {
        timeoutMs,
        message: () => `${message}; got ${JSON.stringify(text.slice(0, 300))}`,
      });
    },
    send: (bytes) =>
      new Promise((resolve) => {
        const chunk = Buffer.alloc(64 * 1024, 97);
        let sent = 0;
        const more = () => {
          while (sent < bytes && !closed && !socket.destroyed) {
            const piece = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
            sent += piece.length;
            if (!socket.write(piece)) {
              socket.once('drain', more);
              return;
            }
          }
          resolve(sent);
        };
        socket.once('close', () => resolve(sent));
        more();
      }),
    close: () => socket.destroy(),
  };
}

/** The status code of the first response in `text` that is not an interim 1xx, or undefined. */
export function finalStatus(text: string): number | undefined {
  for (const match of text.matchAll(/HTTP\/1\.1 (\d{3})[^\r\n]*\r\n/g)) {
    const status = Number(match[1]);
    if (status >= 200) return status;
  }
  return undefined;
}

/** The header lines of the final response in `text`, lower-cased names. */
export function finalHeaders(text: string): Record<string, string> {
  const at = text.search(/HTTP\/1\.1 [2-5]\d\d/);
  if (at === -1) return {};
  const end = text.indexOf('\r\n\r\n', at);
  const headers: Record<string, string> = {};
  for (const line of text
    .slice(at, end === -1 ? undefined : end)
    .split('\r\n')
    .slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Whether `text` ends with the last chunk of a chunked body (Node's framing for unsized answers). */
export function endsChunked(text: string): boolean {
  return text.endsWith('\r\n0\r\n\r\n');
}
