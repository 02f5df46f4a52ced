import { isIP } from 'node:net';
import type { AdminConfig } from '../config/schema.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The names the admin listener answers to. A DNS-rebinding page (evil.example resolving to
 * 127.0.0.1) reaches the listener from the operator's own browser, but its requests carry
 * `Host: evil.example`; answering only known names keeps /metrics and the dashboard out of its
 * reach. By default: the listen address, localhost and the loopback addresses, and the host of
 * admin.oidc.redirectUrl; admin.allowedHosts replaces the names. On a wildcard address any IP
 * literal is accepted too (a Kubernetes probe or a Prometheus scrape names the pod's IP), since no
 * page can rebind an address literal: rebinding needs a name the attacker controls. A request without
 * `Host` (an HTTP/1.0 health checker) is accepted: browsers always send one.
 */
export class AllowedHosts {
  private readonly names: ReadonlySet<string>;
  private readonly anyAddress: boolean;

  constructor(admin: AdminConfig) {
    const names = new Set<string>();
    const wildcard = WILDCARDS.has(admin.host);
    if (admin.allowedHosts !== undefined) {
      for (const host of admin.allowedHosts) names.add(normalise(host));
    } else {
      for (const host of ['localhost', '127.0.0.1', '::1']) names.add(host);
      if (!wildcard) names.add(normalise(admin.host));
    }
    if (admin.oidc !== undefined) names.add(normalise(new URL(admin.oidc.redirectUrl).hostname));
    this.names = names;
    this.anyAddress = wildcard;
  }

  allows(header: string | undefined): boolean {
    if (header === undefined) return true;
    const host = hostOf(header);
    if (host === undefined) return false;
    return this.names.has(host) || (this.anyAddress && isIP(host) !== 0);
  }
}

/** The host of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased. */
function hostOf(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end === -1) return undefined;
    const rest = value.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return value.slice(1, end);
  }
  const match = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(value);
  return match === null ? undefined : normalise(match[1]!);
}

function normalise(host: string): string {
  const lower = host.toLowerCase();
  const unbracketed = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return unbracketed.endsWith('.') ? unbracketed.slice(0, -1) : unbracketed;
}
