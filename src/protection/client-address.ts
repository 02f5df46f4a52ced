import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { AddressMatcher } from './address-matcher.js';

/** A dual-stack socket names IPv4 clients `::ffff:a.b.c.d`: one client gets one name. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  if (address.charCodeAt(0) === 58 && address.startsWith('::ffff:') && address.includes('.')) {
    return address.slice(7);
  }
  return address;
}

export function socketAddress(request: IncomingMessage): string {
  return normalizeAddress(request.socket.remoteAddress);
}

/**
 * The client is the socket peer, unless that peer is a trusted proxy: then X-Forwarded-For is
 * read from the right, skipping trusted proxies, and the first address not one of them is the
 * client. Everything left of it was written by the client and proves nothing.
 */
export class ClientAddressResolver {
  constructor(private readonly trustedProxies: AddressMatcher) {}

  resolve(request: IncomingMessage): string {
    const peer = socketAddress(request);
    if (this.trustedProxies.size === 0 || !this.trustedProxies.matches(peer)) return peer;
    const header = request.headers['x-forwarded-for'];
    return typeof header === 'string' ? this.fromForwardedFor(header, peer) : peer;
  }

  /** `peer` is the trusted proxy that sent the header; duplicates arrive joined with ", ". */
  fromForwardedFor(header: string, peer: string): string {
    let hop = peer;
    const hops = header.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const candidate = hopAddress(hops[i]!);
      // A garbled entry was written by someone we cannot vouch for: stop at the last trusted hop.
      if (candidate === undefined) return hop;
      if (!this.trustedProxies.matches(candidate)) return candidate;
      hop = candidate;
    }
    return hop;
  }
}

/** One X-Forwarded-For entry without spaces, brackets or port; undefined when not an address. */
function hopAddress(raw: string): string | undefined {
  let entry = raw.trim();
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    entry = close === -1 ? '' : entry.slice(1, close);
  } else if (entry.indexOf(':') !== -1 && entry.indexOf(':') === entry.lastIndexOf(':')) {
    entry = entry.slice(0, entry.indexOf(':')); // IPv4 with a port
  }
  return isIP(entry) === 0 ? undefined : normalizeAddress(entry);
}
