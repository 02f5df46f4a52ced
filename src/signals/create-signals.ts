import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { IssuerRegistry } from '../keys/issuer-registry.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RedisLink } from '../store/redis-link.js';
import type { CompiledSignals } from './compile-signals.js';
import { MemorySignalStore } from './memory-signal-store.js';
import { RedisSignalStore } from './redis-signal-store.js';
import { SignalReceiver } from './signal-receiver.js';
import { SignalState } from './signal-state.js';
import type { SignalStore } from './signal-store.js';

export interface SignalsDeps {
  readonly config: Config;
  readonly revocations: RevocationService;
  readonly logger: Logger;
  readonly events: SecurityEvents;
  readonly clock: () => number;
  readonly tokenIssuers: () => IssuerRegistry;
  /** The process's Redis link; required with store.kind redis. */
  readonly link?: RedisLink | undefined;
}

/** The receiver of a compiled `signals:` section, on the same kind of store as revocations. */
export function createSignalReceiver(signals: CompiledSignals, deps: SignalsDeps): SignalReceiver {
  const state = new SignalState({
    store: createSignalStore(deps.config, deps.clock, deps.link, deps.logger),
    transmitters: [...signals.byName.values()],
    logger: deps.logger,
    clock: deps.clock,
    resyncMs: deps.config.store.resyncSeconds * 1000,
  });
  return new SignalReceiver({
    signals,
    revocations: deps.revocations,
    state,
    logger: deps.logger,
    events: deps.events,
    clock: deps.clock,
    tokenIssuers: deps.tokenIssuers,
  });
}

export function createSignalStore(
  config: Config,
  clock: () => number,
  link: RedisLink | undefined,
  logger: Logger,
): SignalStore {
  if (config.store.kind === 'memory') return new MemorySignalStore(clock);
  if (link === undefined) throw new Error('the Redis signal store needs the process RedisLink');
  return new RedisSignalStore(link, { prefix: config.store.prefix, logger });
}
