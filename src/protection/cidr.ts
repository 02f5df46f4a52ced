import { isIP } from 'node:net';

/** One deny-list or trusted-proxy entry: a host address is a network with the full prefix. */
export interface Network {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

const PREFIX = /^\d{1,3}$/;
const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `203.0.113.7`, `203.0.113.0/24` or `2001:db8::/32`; undefined when it is none of these. */
export function parseNetwork(text: string): Network | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const bits = text.slice(slash + 1);
    if (!PREFIX.test(bits) || Number(bits) > max) return undefined;
    prefix = Number(bits);
  }
  // Clients are named by their IPv4 form (see client-address.ts), so a mapped entry must be too.
  const mapped = version === 6 ? MAPPED_V4.exec(address) : null;
  if (mapped !== null && prefix >= 96) return { address: mapped[1]!, prefix: prefix - 96, family: 'ipv4' };
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
