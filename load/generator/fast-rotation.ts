import { createRequire } from 'node:module';

interface ClientPrototype {
  getRequestBuffer(this: unknown): Buffer;
}

const require = createRequire(import.meta.url);
let rotation: readonly Buffer[] | undefined;
let next = 0;
let installed: boolean | undefined;
// Where each pool's rotation stopped: the next job on it carries on from there, so that short
// jobs in a row (warm-up, rounds) walk the whole pool instead of its first few thousand.
const positions = new WeakMap<readonly Buffer[], number>();

/**
 * autocannon rebuilds the whole request on every call when `setupRequest` rotates a header,
 * about 30 µs of the generator's core per request (measured), enough to make the generator and
 * not the target the limit near 15,000 req/s. Instead every request of a pool is built once,
 * and the one place autocannon's client takes its next request buffer hands them out in turn
 * (one counter for all connections, so a pool larger than a cache really misses). Returns
 * false, and the caller falls back to setupRequest, if that place has moved in another version.
 */
export function installFastRotation(): boolean {
  if (installed !== undefined) return installed;
  try {
    const Client = require('autocannon/lib/httpClient.js') as { prototype: ClientPrototype };
    const original = Client.prototype.getRequestBuffer;
    installed = typeof original === 'function';
    if (installed) {
      Client.prototype.getRequestBuffer = function (this: unknown) {
        return rotation === undefined ? original.call(this) : rotation[next++ % rotation.length]!;
      };
    }
  } catch {
    installed = false;
  }
  return installed;
}

/** The raw requests to rotate through for the next job, or undefined for autocannon's own. */
export function useRotation(buffers: readonly Buffer[] | undefined): void {
  if (rotation !== undefined) positions.set(rotation, next % rotation.length);
  rotation = buffers;
  next = buffers === undefined ? 0 : (positions.get(buffers) ?? 0);
}

/** One GET per Authorization value, byte for byte what autocannon itself would have sent. */
export function buildRequests(url: URL, authorizations: readonly string[]): Buffer[] {
  const head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n`;
  return authorizations.map((a) => Buffer.from(`${head}authorization: ${a}\r\n\r\n`, 'latin1'));
}
