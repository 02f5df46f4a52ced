import type { Logger } from 'pino';
import type { KeySourceConfig } from '../config/schema.js';
import { buildKeySet, type KeySetContext } from './build-key-set.js';
import { installKeySet, quarantineSharedMaterial, type SharedMaterial } from './install-key-set.js';
import { type IssuerRegistry, keySetOf } from './issuer-registry.js';
import type { KeyTrustHost } from './key-trust-host.js';
import type { RemoteKeySource } from './remote-key-source.js';
import { screenKeySet } from './screen-new-keys.js';

// Cache-Control max-age is honoured within these bounds: an IdP cannot make the gateway hammer
// it, nor keep a removed (perhaps compromised) key alive for days.
const MIN_REFRESH_SECONDS = 60;
const MAX_REFRESH_SECONDS = 86400;
// After a failure, retry from cooldownSeconds upwards, doubling, but never wait longer than this.
const MAX_RETRY_SECONDS = 300;

export type RefreshTrigger = 'initial' | 'scheduled' | 'unknown-kid' | 'manual';

export interface RefreshOutcome {
  readonly ok: boolean;
  readonly error?: Error;
  /** Set when the fetched set shared key material with another issuer's and was refused. */
  readonly shared?: readonly SharedMaterial[];
}

/** What the refreshers of one configuration share. */
export interface RefresherHost {
  readonly registry: IssuerRegistry;
  /** Thumbprint of refused shared material to the issuers that published it. */
  readonly quarantine: Map<string, readonly string[]>;
  readonly clock: () => number;
  /** Undefined until the gateway starts (check-config compiles without logging). */
  readonly logger: Logger | undefined;
  /**
   * The trust decisions, once the gateway starts: every set fetched from then on is screened for
   * new keys (screen-new-keys.ts). Undefined before (check-config), when nothing is served.
   */
  readonly trust: KeyTrustHost | undefined;
}

export interface RefresherOptions {
  readonly issuerId: string;
  readonly source: RemoteKeySource;
  readonly keys: KeySourceConfig;
  readonly context: Omit<KeySetContext, 'quarantine'>;
}

/**
 * Keeps one issuer's remote key set current: on a schedule, and on demand for an unknown kid at
 * most once per cooldown. One fetch at a time; every caller during it shares that one. A failed
 * fetch never replaces anything: the last good set stays in force.
 */
export class KeySetRefresher {
  lastAttemptAt: number | undefined;
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  consecutiveFailures = 0;
  nextRefreshAt: number | undefined;
  /** Load warnings of the last fetched set (keys refused or ignored). */
  warnings: readonly string[] = [];

  private inFlight: Promise<RefreshOutcome> | undefined;
  private inFlightWait: Promise<void> | undefined;
  private lastKidRefetchAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** When the last refresh says the next one is due; kept for start() after the initial load. */
  private nextDelayMs: number | undefined;

  constructor(
    readonly options: RefresherOptions,
    private readonly host: RefresherHost,
  ) {}

  get issuerId(): string {
    return this.options.issuerId;
  }

  start(): void {
    this.running = true;
    this.schedule(this.nextDelayMs ?? this.retryDelayMs());
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextRefreshAt = undefined;
  }

  /** See KeyRefetcher: join the fetch in flight, or start one if the cooldown has passed. */
  refetchFor(nowMs: number): Promise<void> | undefined {
    if (this.inFlight !== undefined) return this.inFlightWait;
    const cooldownMs = this.options.keys.cooldownSeconds * 1000;
    if (this.lastKidRefetchAt !== undefined && nowMs - this.lastKidRefetchAt < cooldownMs) return undefined;
    this.lastKidRefetchAt = nowMs;
    void this.refresh('unknown-kid');
    return this.inFlightWait;
  }

  /** Seconds until an unknown kid may cause another fetch (for Retry-After). */
  cooldownLeftSeconds(nowMs: number): number {
    if (this.lastKidRefetchAt === undefined) return 0;
    return Math.max(0, this.options.keys.cooldownSeconds - (nowMs - this.lastKidRefetchAt) / 1000);
  }

  refresh(trigger: RefreshTrigger): Promise<RefreshOutcome> {
    if (this.inFlight !== undefined) return this.inFlight;
    // Requests waiting on an unknown kid give up after timeoutSeconds even if the fetch has not.
    let waitTimer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      waitTimer = setTimeout(resolve, this.options.keys.timeoutSeconds * 1000);
      waitTimer.unref();
    });
    const run = this.run(trigger).finally(() => {
      this.inFlight = undefined;
      this.inFlightWait = undefined;
      clearTimeout(waitTimer);
    });
    this.inFlight = run;
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlightWait = Promise.race([settled, bound]);
    return run;
  }

  private async run(trigger: RefreshTrigger): Promise<RefreshOutcome> {
    const { issuerId, source } = this.options;
    const { registry, clock } = this.host;
    const issuer = registry.byId.get(issuerId)!;
    this.lastAttemptAt = clock();
    let outcome: RefreshOutcome;
    let maxAgeSeconds: number | undefined;
    try {
      const fetched = await source.fetchKeySet(trigger !== 'unknown-kid');
      maxAgeSeconds = fetched.maxAgeSeconds;
      const built = await buildKeySet(
        fetched.body,
        { ...this.options.context, quarantine: this.host.quarantine },
        issuer.keys,
        clock(),
      );
      this.logWarnings(built.warnings);
      const trust = this.host.trust;
      const screening =
        trust === undefined
          ? undefined
          : screenKeySet(issuerId, issuer.trust, trust.index, built.set.all, clock());
      const set =
        screening === undefined || screening.overflow.length === 0 ? built.set : keySetOf(screening.keys);
      const shared = installKeySet(registry, issuerId, set);
      // Recorded in the same turn as the install: no request sees a new key without its record.
      if (shared.length === 0 && screening !== undefined) trust!.record(issuerId, screening);
      if (shared.length > 0) {
        if (trigger !== 'initial') this.refuseShared(shared);
        outcome = { ok: false, shared };
        this.failed(describeShared(issuerId, shared), true);
      } else {
        outcome = { ok: true };
        this.succeeded(built.added, built.removed, built.set.all.length, trigger);
      }
    } catch (err) {
      outcome = { ok: false, error: err as Error };
      this.failed((err as Error).message, false);
    }
    this.nextDelayMs = outcome.ok ? this.refreshDelayMs(maxAgeSeconds) : this.retryDelayMs();
    if (this.running) this.schedule(this.nextDelayMs);
    return outcome;
  }

  private succeeded(added: readonly string[], removed: readonly string[], count: number, trigger: string) {
    const recovered = this.consecutiveFailures > 0;
    this.lastSuccessAt = this.host.clock();
    this.lastError = undefined;
    this.consecutiveFailures = 0;
    const changed = added.length > 0 || removed.length > 0;
    const log = {
      event: 'keys.refreshed',
      issuerId: this.issuerId,
      trigger,
      added,
      removed,
      keyCount: count,
    };
    if (changed || recovered) this.host.logger?.info(log, `key set of ${this.issuerId} refreshed`);
    else this.host.logger?.debug(log, `key set of ${this.issuerId} unchanged`);
  }

  private failed(message: string, alreadyLogged: boolean): void {
    this.lastError = message;
    this.consecutiveFailures += 1;
    if (alreadyLogged) return;
    const loaded = this.host.registry.byId.get(this.issuerId)!.keys.loaded;
    const log = {
      event: loaded ? 'keys.refresh_failed' : 'keys.unavailable',
      issuerId: this.issuerId,
      source: this.options.source.description,
      error: message,
      consecutiveFailures: this.consecutiveFailures,
    };
    // A loaded set keeps serving; a set that never loaded means this issuer's tokens get 503.
    if (loaded)
      this.host.logger?.warn(log, `key set of ${this.issuerId}: refresh failed, keeping the last good set`);
    else this.host.logger?.error(log, `key set of ${this.issuerId} unavailable: ${message}`);
  }

  private refuseShared(shared: readonly SharedMaterial[]): void {
    quarantineSharedMaterial(this.host.registry, this.issuerId, shared, this.host.quarantine);
    for (const s of shared) {
      this.host.logger?.error(
        {
          event: 'keys.shared_material',
          severity: 'critical',
          issuerId: this.issuerId,
          kid: s.kid,
          otherIssuer: s.otherIssuer,
          otherKid: s.otherKid,
          thumbprint: s.thumbprint,
        },
        `KEY MATERIAL SHARED: the key set of ${this.issuerId} now publishes key ${s.kid}, which is ${s.otherIssuer}'s key ${s.otherKid ?? ''}; the key is refused for both and the previous sets stay in force`,
      );
    }
  }

  /** Load warnings repeat on every refresh; they are logged when they change. */
  private logWarnings(warnings: readonly string[]): void {
    const unchanged =
      warnings.length === this.warnings.length && warnings.every((w, i) => w === this.warnings[i]);
    this.warnings = warnings;
    if (unchanged) return;
    for (const warning of warnings) {
      this.host.logger?.warn({ event: 'keys.warning', issuerId: this.issuerId }, warning);
    }
  }

  private refreshDelayMs(maxAgeSeconds: number | undefined): number {
    const configured = this.options.keys.refreshSeconds;
    const seconds =
      maxAgeSeconds === undefined
        ? configured
        : Math.min(configured, Math.max(MIN_REFRESH_SECONDS, Math.min(MAX_REFRESH_SECONDS, maxAgeSeconds)));
    return seconds * 1000;
  }

  private retryDelayMs(): number {
    const { cooldownSeconds, refreshSeconds } = this.options.keys;
    const backoff = cooldownSeconds * 2 ** Math.max(0, this.consecutiveFailures - 1);
    return Math.min(backoff, MAX_RETRY_SECONDS, refreshSeconds) * 1000;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.nextRefreshAt = this.host.clock() + delayMs;
    this.timer = setTimeout(() => void this.refresh('scheduled'), delayMs);
    this.timer.unref();
  }
}

function describeShared(issuerId: string, shared: readonly SharedMaterial[]): string {
  const list = shared
    .map((s) => `key ${s.kid} is also ${s.otherIssuer}'s key ${s.otherKid ?? '?'}`)
    .join('; ');
  return `set of ${issuerId} refused: ${list}; a key speaks for one issuer only`;
}
