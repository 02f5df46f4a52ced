import { isDeepStrictEqual } from 'node:util';
import type { SecurityEvents } from '../observability/security-events.js';
import type { CompiledProtection } from '../protection/compile-protection.js';
import { createProtection, type ProtectionStoreDeps } from '../protection/create-protection.js';
import type { Protection } from '../protection/protection.js';
import type { CompiledConfig } from './compile-config.js';

export interface ProtectionStartDeps extends ProtectionStoreDeps {
  readonly events: SecurityEvents;
}

/**
 * Builds and starts the protection rules of a configuration; their anomalies join the security
 * event stream. `previous` are the rules being replaced: with the memory store their blocks live
 * only in this process, and are carried over so that a reload never lifts a block.
 */
export async function startProtection(
  compiled: CompiledProtection,
  deps: ProtectionStartDeps,
  previous?: Protection,
): Promise<Protection> {
  const protection = createProtection(compiled, deps);
  // Each anomaly's log line is written where its rule fired (anomaly-log.ts).
  protection.onAnomaly((event) => deps.events.notice(event, undefined));
  if (previous !== undefined && deps.store.kind === 'memory') {
    const now = deps.clock();
    for (const block of previous.blocks.list()) await protection.blocks.store.add(block, now);
  }
  await protection.start();
  return protection;
}

/**
 * Whether the running rules serve the new configuration unchanged, counters and all: the same
 * `protection:` section over the same route names (rate limits are indexed by route name).
 */
export function protectionUnchanged(previous: CompiledConfig, next: CompiledConfig): boolean {
  const names = (c: CompiledConfig) => c.routes.map((r) => r.name).sort();
  return (
    isDeepStrictEqual(previous.config.protection, next.config.protection) &&
    isDeepStrictEqual(names(previous), names(next))
  );
}
