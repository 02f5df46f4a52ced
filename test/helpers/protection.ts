// Shared by the protection tests: a gateway with a `protection:` section in front of one upstream,
// requests from chosen loopback addresses, and the anomaly events of the captured log.

import {
  type KeyRing,
  type LogCapture,
  referenceConfig,
  startTestGateway,
  type TestGateway,
  tempDir,
} from './gateway-fixture.js';
import { getFrom } from './http.js';
import type { Upstream } from './upstream.js';

export interface ProtectedOptions {
  readonly clock?: () => number;
  readonly store?: Record<string, unknown>;
  readonly dir?: string;
}

/** The reference configuration with `protection` added; files in it resolve against `dir`. */
export function protectedConfig(
  ring: KeyRing,
  upstream: Upstream,
  protection: Record<string, unknown>,
  options: ProtectedOptions = {},
): { config: Record<string, unknown>; dir: string } {
  const dir = options.dir ?? tempDir();
  const extra: Record<string, unknown> = { protection };
  if (options.store !== undefined) extra.store = options.store;
  return { config: referenceConfig(dir, ring, { upstream: upstream.url, extra }), dir };
}

export async function startProtected(
  ring: KeyRing,
  upstream: Upstream,
  protection: Record<string, unknown>,
  options: ProtectedOptions = {},
): Promise<TestGateway> {
  const { config, dir } = protectedConfig(ring, upstream, protection, options);
  return startTestGateway(config, { dir, ...(options.clock ? { clock: options.clock } : {}) });
}

/** `ok` for a 200, else `<status> <reason>`: what the gateway says to `token` from `address`. */
export async function verdictFrom(
  gw: TestGateway,
  address: string,
  token?: string,
  path = '/api/mail/messages',
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await getFrom(address, `${gw.url}${path}`, token, headers);
  return res.status === 200 ? 'ok' : `${res.status} ${String(res.body.reason)}`;
}

export function anomalies(logs: LogCapture, rule?: string): Record<string, unknown>[] {
  return logs.lines.filter((l) => l.event === 'anomaly' && (rule === undefined || l.rule === rule));
}
