import type { Logger } from 'pino';
import { type IssuerRegistry, keySetOf } from './issuer-registry.js';
import type { KeyRefetcher } from './key-refetch.js';
import {
  KeySetRefresher,
  type RefresherHost,
  type RefresherOptions,
  type RefreshOutcome,
} from './key-set-refresher.js';
import type { KeyTrustHost } from './key-trust-host.js';
import { DiscoveryMismatchError } from './remote-key-source.js';
import { screenKeySet } from './screen-new-keys.js';

/** One issuer's key set as /readyz and check-config show it. Times are ISO 8601. */
export interface KeySetStatus {
  readonly issuerId: string;
  /** `file <path>`, `url <url>` or `discovery <url> (jwks_uri <url>)`. */
  readonly source: string;
  readonly remote: boolean;
  /** False while a remote set has never been fetched: the issuer's tokens get 503 keys_unavailable. */
  readonly loaded: boolean;
  /** Keys in force, not counting removed keys serving out their grace. */
  readonly keyCount: number;
  readonly kids: readonly string[];
  readonly retiringKids: readonly string[];
  readonly quarantinedKids: readonly string[];
  readonly lastRefreshAt: string | undefined;
  readonly lastSuccessAt: string | undefined;
  /** The last refresh's error, cleared by the next success. */
  readonly lastError: string | undefined;
  readonly consecutiveFailures: number;
  readonly nextRefreshAt: string | undefined;
}

export interface InitialLoad {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * The key sets of one compiled configuration: file sets (loaded once) and remote sets, each
 * remote set kept current by its own refresher. Nothing runs in the background until start().
 */
export class KeySetManager implements KeyRefetcher {
  private readonly refreshers = new Map<string, KeySetRefresher>();
  private readonly files = new Map<string, string>();
  private readonly host: { -readonly [K in keyof RefresherHost]: RefresherHost[K] };

  constructor(
    private readonly registry: IssuerRegistry,
    clock: () => number,
  ) {
    this.host = { registry, quarantine: new Map(), clock, logger: undefined, trust: undefined };
  }

  addFile(issuerId: string, file: string): void {
    this.files.set(issuerId, file);
  }

  addRemote(options: RefresherOptions): void {
    this.refreshers.set(options.issuerId, new KeySetRefresher(options, this.host));
  }

  get hasRemote(): boolean {
    return this.refreshers.size > 0;
  }

  /**
   * The first fetch of every remote set, in parallel and bounded by each source's timeout, so an
   * unreachable IdP delays startup by seconds, not forever. A discovery document naming another
   * issuer, or material shared with another set, is a load error; an IdP that does not answer is
   * not: the gateway starts not ready for that issuer and keeps trying.
   */
  async loadInitial(): Promise<InitialLoad> {
    const problems: string[] = [];
    const warnings: string[] = [];
    const outcomes = await Promise.all(
      [...this.refreshers.values()].map(async (r) => [r, await r.refresh('initial')] as const),
    );
    for (const [refresher, outcome] of outcomes) {
      const path = refresher.options.context.path;
      warnings.push(...refresher.warnings);
      if (outcome.ok) continue;
      if (outcome.error instanceof DiscoveryMismatchError || outcome.shared !== undefined) {
        problems.push(`${path}: ${refresher.lastError}`);
      } else {
        warnings.push(
          `${path}: key set not loaded (${refresher.lastError}); issuer ${refresher.issuerId} is unavailable until it loads`,
        );
      }
    }
    return { problems, warnings };
  }

  /**
   * Background refresh begins; logs go to `logger` from now on. With `trust`, the sets loaded so
   * far are screened for new keys now, before any request is served under them, and every set
   * fetched later as it arrives.
   */
  start(logger: Logger, trust?: KeyTrustHost): void {
    this.host.logger = logger.child({ component: 'keys' });
    this.host.trust = trust;
    if (trust !== undefined) this.screenLoaded(trust);
    for (const refresher of this.refreshers.values()) refresher.start();
  }

  private screenLoaded(trust: KeyTrustHost): void {
    for (const issuerId of this.refreshers.keys()) {
      const issuer = this.registry.byId.get(issuerId)!;
      if (!issuer.keys.loaded) continue;
      const screening = screenKeySet(issuerId, issuer.trust, trust.index, issuer.keys.all, this.host.clock());
      if (screening.overflow.length > 0) this.registry.replaceKeys(issuerId, keySetOf(screening.keys));
      trust.record(issuerId, screening);
    }
  }

  stop(): void {
    for (const refresher of this.refreshers.values()) refresher.stop();
  }

  refetchFor(issuerId: string, nowMs: number): Promise<void> | undefined {
    return this.refreshers.get(issuerId)?.refetchFor(nowMs);
  }

  /** Refreshes one remote set now (shares a fetch already in flight). */
  async refresh(issuerId: string): Promise<RefreshOutcome> {
    const refresher = this.refreshers.get(issuerId);
    if (refresher === undefined) throw new Error(`issuer ${issuerId} has no remote key set`);
    return refresher.refresh('manual');
  }

  cooldownLeftSeconds(issuerId: string, nowMs: number): number {
    return this.refreshers.get(issuerId)?.cooldownLeftSeconds(nowMs) ?? 0;
  }

  status(): KeySetStatus[] {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const now = this.host.clock();
    return [...this.registry.byId.values()].map((issuer) => {
      const keys = issuer.keys.all;
      const inForce = keys.filter((k) => k.removedAfter === undefined);
      const r = this.refreshers.get(issuer.id);
      return {
        issuerId: issuer.id,
        source: r?.options.source.description ?? `file ${this.files.get(issuer.id) ?? '?'}`,
        remote: r !== undefined,
        loaded: issuer.keys.loaded,
        keyCount: inForce.length,
        kids: inForce.map((k) => k.kid),
        retiringKids: keys
          .filter((k) => k.removedAfter !== undefined && k.removedAfter > now)
          .map((k) => k.kid),
        quarantinedKids: keys.filter((k) => k.alsoClaimedBy !== undefined).map((k) => k.kid),
        lastRefreshAt: iso(r?.lastAttemptAt),
        lastSuccessAt: iso(r?.lastSuccessAt),
        lastError: r?.lastError,
        consecutiveFailures: r?.consecutiveFailures ?? 0,
        nextRefreshAt: iso(r?.nextRefreshAt),
      };
    });
  }
}
