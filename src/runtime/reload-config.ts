import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error.js';
import { loadConfigFile } from '../config/load-config.js';
import { maxClockSkewSeconds } from '../config/max-clock-skew.js';
import type { KeyTrustHost } from '../keys/key-trust-host.js';
import type { RequestStats } from '../observability/request-stats.js';
import type { SecurityEvents } from '../observability/security-events.js';
import type { Protection } from '../protection/protection.js';
import type { RevocationService } from '../revocation/revocation-service.js';
import type { RedisLink } from '../store/redis-link.js';
import type { IntrospectionStats } from '../verify/introspection/introspection-stats.js';
import { carryOverKeySets } from './carry-key-sets.js';
import { type CompiledConfig, compileConfig, withLoadProblems } from './compile-config.js';
import { createRuntime, type GatewayRuntime } from './gateway-runtime.js';
import { keepRestartSettings } from './restart-settings.js';
import type { RuntimeHolder } from './runtime-holder.js';
import { protectionUnchanged, startProtection } from './start-protection.js';
import { watchConfigFile } from './watch-config.js';

export type ReloadOutcome =
  | {
      readonly applied: true;
      readonly generation: number;
      /** Restart-only settings the file changed, and the configuration's load warnings. */
      readonly warnings: readonly string[];
    }
  | {
      readonly applied: false;
      /** The generation still in force. */
      readonly generation: number;
      /** Every problem, each as `path: message`, as at start. */
      readonly problems: readonly string[];
    };

export interface ReloaderDeps {
  /** The file the gateway started from; relative paths inside it resolve against its folder. */
  readonly path: string;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly runtime: RuntimeHolder;
  readonly revocations: RevocationService;
  /** Key trust decisions: the new generation's key sets are screened against them. */
  readonly trust?: KeyTrustHost | undefined;
  /** Introspection counters shared by every generation (/metrics). */
  readonly introspectionStats?: IntrospectionStats | undefined;
  readonly stats: RequestStats;
  readonly events: SecurityEvents;
  readonly logger: Logger;
  readonly clock: () => number;
  /** The process's one Redis link (store.kind redis): new protection rules share it. */
  readonly link: RedisLink | undefined;
}

const DRAIN_POLL_MS = 50;
// Past the longest a request can wait in authentication (a key refetch, `timeoutSeconds` <= 60).
const DRAIN_LIMIT_MS = 120_000;

/**
 * Reads the config file again and, if it is sound, puts it in force in one assignment: requests
 * that arrived before keep the generation they started with; a file with problems changes
 * nothing. One reload runs at a time; triggers during one share a single reload after it.
 */
export class ConfigReloader {
  private running: Promise<ReloadOutcome> | undefined;
  private queued: Promise<ReloadOutcome> | undefined;
  private readonly retiring = new Set<Promise<void>>();
  private stopWatching: (() => void) | undefined;
  private closed = false;

  constructor(private readonly deps: ReloaderDeps) {}

  /** `trigger` only names the cause in the log: SIGHUP, file, admin-api... */
  reload(trigger: string): Promise<ReloadOutcome> {
    if (this.running === undefined) return this.run(trigger);
    // A trigger during a reload may come from a newer file than the one being read: one more
    // reload after this one, shared by every trigger until it starts.
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.run(trigger);
    });
    return this.queued;
  }

  /** Follows `reload.watch` of the configuration in force. */
  watch(enabled: boolean): void {
    if (this.closed || enabled === (this.stopWatching !== undefined)) return;
    if (enabled) this.stopWatching = watchConfigFile(this.deps.path, () => void this.reload('file'));
    else {
      this.stopWatching?.();
      this.stopWatching = undefined;
    }
  }

  /** No reload starts after this; resolves when the one running and old generations are done. */
  async close(): Promise<void> {
    this.watch(false);
    this.closed = true;
    await this.queued;
    await this.running;
    await Promise.all(this.retiring);
  }

  private run(trigger: string): Promise<ReloadOutcome> {
    // Never rejects: a signal handler or the file watch has nobody to hand an error to.
    const run = this.apply(trigger)
      .catch((err: unknown) => this.failed(err, trigger))
      .finally(() => {
        if (this.running === run) this.running = undefined;
      });
    this.running = run;
    return run;
  }

  private async apply(trigger: string): Promise<ReloadOutcome> {
    const { runtime: holder, logger } = this.deps;
    const previous = holder.current;
    if (this.closed) return this.refuse(previous, trigger, ['the gateway is shutting down']);
    const started = performance.now();
    let compiled: CompiledConfig;
    let kept: readonly string[];
    try {
      const loaded = loadConfigFile(this.deps.path, this.deps.env);
      const pinned = keepRestartSettings(previous.compiled.config, loaded.config);
      kept = pinned.kept;
      // Remote key sets are fetched here, each bounded by its source's timeout.
      compiled = await compileConfig(pinned.config, loaded.path, {
        clock: this.deps.clock,
        listenerTls: false,
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        // As at start: a refused reload lists every problem of the file, not only the schema's.
        const all = await withLoadProblems(err, { clock: this.deps.clock, listenerTls: false });
        return this.refuse(previous, trigger, all.problems);
      }
      return this.failed(err, trigger);
    }
    const carried = carryOverKeySets(previous.compiled, compiled);

    const keepProtection = protectionUnchanged(previous.compiled, compiled);
    let protection: Protection | undefined = previous.protection;
    if (!keepProtection) {
      try {
        protection =
          compiled.protection === undefined
            ? undefined
            : await startProtection(
                compiled.protection,
                { ...this.deps, store: compiled.config.store },
                previous.protection,
              );
      } catch (err) {
        logger.error({ event: 'config.reload_error', trigger, err }, 'protection rules did not start');
        return this.refuse(previous, trigger, [`protection: cannot start (${(err as Error).message})`]);
      }
    }
    if (this.closed) {
      if (!keepProtection) await protection?.stop();
      return this.refuse(previous, trigger, ['the gateway is shutting down']);
    }

    compiled.keySets.start(logger, this.deps.trust);
    this.deps.stats.addRoutes(compiled.routes);
    const next = createRuntime(compiled, {
      generation: previous.generation + 1,
      revocations: this.deps.revocations.mirror,
      trust: this.deps.trust?.index,
      clock: this.deps.clock,
      protection,
      introspectionStats: this.deps.introspectionStats,
      logger,
    });
    // The swap: from here every new request is served under the new configuration.
    holder.swap(next);
    this.retire(previous, keepProtection);
    this.watch(compiled.config.reload.watch);

    const warnings = [
      ...kept,
      ...compiled.warnings,
      ...carried.map(
        (id) => `issuers.${id}.keys: not fetched; the last good set of the running configuration is kept`,
      ),
    ];
    for (const line of kept) logger.warn({ event: 'config.restart_required', setting: line }, line);
    for (const line of warnings.slice(kept.length)) logger.warn({ event: 'config.warning' }, line);
    let revocations: { added: number; removed: number } | undefined;
    try {
      revocations = await this.deps.revocations.applyConfig(
        compiled.config.revocations,
        maxClockSkewSeconds(compiled.config),
      );
    } catch (err) {
      logger.error({ event: 'revocation.sync_failed', err }, 'configuration revocations not stored');
    }
    logger.info(
      {
        event: 'config.reloaded',
        trigger,
        generation: next.generation,
        routes: compiled.routes.map((r) => r.name),
        issuers: [...compiled.registry.byId.keys()],
        protection: compiled.protection === undefined ? 'off' : keepProtection ? 'kept' : 'replaced',
        revocations,
        durationMs: Math.round(performance.now() - started),
      },
      `configuration reloaded (generation ${next.generation})`,
    );
    return { applied: true, generation: next.generation, warnings };
  }

  /** Something other than the file went wrong: logged in full, answered as a refusal. */
  private failed(err: unknown, trigger: string): ReloadOutcome {
    this.deps.logger.error({ event: 'config.reload_error', trigger, err }, 'configuration reload failed');
    const message = err instanceof Error ? err.message : String(err);
    return this.refuse(this.deps.runtime.current, trigger, [`unexpected error: ${message}`]);
  }

  private refuse(current: GatewayRuntime, trigger: string, problems: readonly string[]): ReloadOutcome {
    const { logger } = this.deps;
    for (const problem of problems) logger.error({ event: 'config.reload_problem', trigger }, problem);
    logger.error(
      { event: 'config.reload_failed', trigger, generation: current.generation, problems },
      `configuration reload refused: ${problems.length} problem(s); generation ${current.generation} stays in force`,
    );
    return { applied: false, generation: current.generation, problems };
  }

  /**
   * Stops what only the replaced generation used, once no request is inside its authentication
   * step: its key refreshers, its upstream pools (once their requests end) and, unless the new
   * generation kept them, its protection rules.
   */
  private retire(previous: GatewayRuntime, protectionKept: boolean): void {
    const done = (async () => {
      const since = performance.now();
      while (previous.authenticating > 0 && performance.now() - since < DRAIN_LIMIT_MS) {
        await sleep(DRAIN_POLL_MS);
      }
      previous.compiled.keySets.stop();
      // No request starts on the old pools any more: each closes once its requests end (a long
      // download keeps its connection to the end; the close is not awaited, so a shutdown is not
      // held up by it).
      previous.pools.close().catch((err: unknown) => {
        this.deps.logger.error(
          { event: 'config.retire_failed', err },
          'closing the old upstream pools failed',
        );
      });
      // No request of it is authenticating any more, so none waits on an introspection answer.
      previous.introspection?.close().catch(() => {});
      if (!protectionKept) await previous.protection?.stop();
      this.deps.logger.debug(
        { event: 'config.retired', generation: previous.generation },
        'old configuration retired',
      );
    })()
      .catch((err: unknown) => {
        this.deps.logger.error(
          { event: 'config.retire_failed', err },
          'stopping the old configuration failed',
        );
      })
      .finally(() => this.retiring.delete(done));
    this.retiring.add(done);
  }
}
