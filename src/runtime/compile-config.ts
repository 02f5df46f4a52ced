import { dirname, resolve } from 'node:path';
import { adminProblems } from '../config/check-admin.js';
import { introspectionProblems } from '../config/check-introspection.js';
import { type CompiledRoute, compileRoutes } from '../config/compile-routes.js';
import { ConfigError } from '../config/config-error.js';
import { type LoadedConfig, loadConfigFile } from '../config/load-config.js';
import type { Config, IssuerConfig } from '../config/schema.js';
import { compileIssuerTemplate, type IssuerTemplate, isTemplated } from '../keys/issuer-matcher.js';
import {
  type CompiledIssuer,
  IssuerRegistry,
  type KeySet,
  keySetOf,
  UNLOADED_KEY_SET,
} from '../keys/issuer-registry.js';
import { keySupportsAlg } from '../keys/key-entry.js';
import { KeySetManager } from '../keys/key-set-manager.js';
import { keyTrustPolicyOf } from '../keys/key-trust.js';
import { loadJwksFile } from '../keys/load-jwks.js';
import { remoteRefresherOptions } from '../keys/remote-refresher-options.js';
import { type CompiledProtection, compileProtection } from '../protection/compile-protection.js';
import { type ListenerTls, loadListenerTls } from './load-listener-tls.js';

/** Everything the request path needs, computed once from a validated configuration. */
export interface CompiledConfig {
  readonly config: Config;
  readonly registry: IssuerRegistry;
  /** Where each issuer's keys come from and how fresh they are; start() it to refresh remote sets. */
  readonly keySets: KeySetManager;
  readonly routes: readonly CompiledRoute[];
  /** Undefined when the config has no `protection:` section: the request path then skips it entirely. */
  readonly protection: CompiledProtection | undefined;
  /** `listen.tls` read and parsed; undefined without it (or when the caller did not ask: reload). */
  readonly listenerTls: ListenerTls | undefined;
  readonly warnings: readonly string[];
}

export interface CompileOptions {
  /** The gateway's clock, for key-set timestamps, cooldowns and removal grace. */
  readonly clock?: () => number;
  /** Fetch remote key sets now (default true); false leaves them unloaded, e.g. offline checks. */
  readonly fetchKeys?: boolean;
  /**
   * Read and check the `listen.tls` files (default true). A reload passes false: the listener
   * keeps the material it started with, so a file changed since is no reason to refuse a reload.
   */
  readonly listenerTls?: boolean;
}

export async function compileConfig(
  config: Config,
  configPath: string,
  options: CompileOptions = {},
): Promise<CompiledConfig> {
  const baseDir = dirname(resolve(configPath));
  const problems: string[] = [];
  const warnings: string[] = [];
  const { registry, keySets } = await compileIssuers(
    config.issuers,
    baseDir,
    options.clock ?? Date.now,
    problems,
    warnings,
  );

  const routes = compileRoutes(config, problems);
  problems.push(...adminProblems(config));
  problems.push(...introspectionProblems(config));
  const protection = compileProtection(
    config.protection,
    baseDir,
    routes.map((r) => r.name),
    problems,
  );
  const ids = new Set(Object.keys(config.issuers));
  for (const [kind, list] of Object.entries(config.revocations)) {
    for (const [i, entry] of (list as { issuer: string }[]).entries()) {
      if (!ids.has(entry.issuer))
        problems.push(`revocations.${kind}.${i}.issuer: unknown issuer ${entry.issuer}`);
    }
  }
  if (config.workers !== 1 && config.store.kind !== 'redis') {
    // Worker processes share nothing in memory: a revocation or block taken by one must reach all.
    problems.push(
      'workers: more than one worker needs store.kind redis, so that revocations and blocks are shared',
    );
  }
  if (config.store.kind === 'redis' && !config.store.url && !config.store.redisOptions) {
    problems.push('store.url: required when store.kind is redis');
  }
  const listenerTls =
    options.listenerTls === false ? undefined : loadListenerTls(config.listen.tls, baseDir, problems);
  await loadRemoteKeySets(keySets, options, problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, registry, keySets, routes, protection, listenerTls, warnings };
}

/**
 * The issuers of `defs`, key files loaded, and the manager of their key sets (remote sets not yet
 * fetched). Pushes every problem, each with its path.
 */
async function compileIssuers(
  defs: Readonly<Record<string, IssuerConfig>>,
  baseDir: string,
  clock: () => number,
  problems: string[],
  warnings: string[],
): Promise<{ registry: IssuerRegistry; keySets: KeySetManager }> {
  const issuers: CompiledIssuer[] = [];
  const seenIss = new Map<string, string>();
  const files = new Map<string, string>();

  for (const [id, def] of Object.entries(defs)) {
    const path = `issuers.${id}`;
    const previous = seenIss.get(def.issuer);
    if (previous !== undefined) problems.push(`${path}.issuer: same iss as issuers.${previous}`);
    seenIss.set(def.issuer, id);
    let template: IssuerTemplate | undefined;
    if (isTemplated(def.issuer)) {
      const compiled = compileIssuerTemplate(def.issuer);
      if (typeof compiled === 'string') problems.push(`${path}.issuer: ${compiled}`);
      else template = compiled;
    }
    // Remote sets start unloaded: loadRemoteKeySets fetches them, last.
    let keys: KeySet = UNLOADED_KEY_SET;
    if (def.keys.file !== undefined) {
      const file = resolve(baseDir, def.keys.file);
      files.set(id, file);
      const loaded = await loadJwksFile(file, id, def.keyValidity ?? {}, `${path}.keys.file`, {
        issuer: def.issuer,
        shared: false,
      });
      problems.push(...loaded.problems, ...loaded.rejected);
      warnings.push(...loaded.warnings);
      for (const key of loaded.keys) {
        if (!def.algorithms.some((alg) => keySupportsAlg(key, alg))) {
          warnings.push(
            `${path}: key ${key.kid} (${key.kty} ${key.crv ?? ''}) fits none of ${def.algorithms.join(', ')}`,
          );
        }
      }
      keys = keySetOf(loaded.keys);
    }
    issuers.push({
      id,
      iss: def.issuer,
      role: def.role,
      algorithms: new Set(def.algorithms),
      clockSkewSeconds: def.clockSkewSeconds,
      maxTokenLifetimeSeconds: def.maxTokenLifetimeSeconds,
      requireTyp: def.requireTyp,
      tenants: def.tenants === undefined ? undefined : new Set(def.tenants),
      boundTokens: def.boundTokens,
      trust: keyTrustPolicyOf(def.keys),
      template,
      keys,
    });
  }
  problems.push(...sharedKeyProblems(issuers));
  const registry = new IssuerRegistry(issuers);
  const keySets = new KeySetManager(registry, clock);
  for (const [id, def] of Object.entries(defs)) {
    const file = files.get(id);
    if (file !== undefined) keySets.addFile(id, file);
    else keySets.addRemote(remoteRefresherOptions(id, def));
  }

  return { registry, keySets };
}

/**
 * The first fetch of every remote key set, last: it is bounded by each source's time-out, and
 * fetched even when other problems were found, so that one run reports them all (a discovery
 * document naming another issuer, key material shared with another set).
 */
async function loadRemoteKeySets(
  keySets: KeySetManager,
  options: CompileOptions,
  problems: string[],
  warnings: string[],
): Promise<void> {
  if (!keySets.hasRemote || options.fetchKeys === false) return;
  const initial = await keySets.loadInitial();
  problems.push(...initial.problems);
  warnings.push(...initial.warnings);
}

/**
 * Loads and compiles a configuration file, reporting every problem in one ConfigError: those of
 * the schema and, when the schema fails, those found loading what is valid in the file anyway
 * (see withLoadProblems). What `start` and `check-config` run.
 */
export async function compileConfigFile(
  file: string,
  options: CompileOptions & { readonly env?: NodeJS.ProcessEnv } = {},
): Promise<CompiledConfig & { readonly path: string }> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(file, options.env);
  } catch (err) {
    throw err instanceof ConfigError ? await withLoadProblems(err, options) : err;
  }
  return { ...(await compileConfig(loaded.config, loaded.path, options)), path: loaded.path };
}

/**
 * A schema-stage ConfigError with the problems of loading the file's valid parts added: the key
 * files and key sets of the issuers valid by themselves, the deny lists of a valid
 * `protection:` section and the files of a valid `listen.tls`. An HS256 on one issuer and a missing key file on another are then two
 * lines of one run, not two runs.
 */
export async function withLoadProblems(err: ConfigError, options: CompileOptions = {}): Promise<ConfigError> {
  const partial = err.partial;
  if (partial === undefined) return err;
  const baseDir = dirname(resolve(partial.path));
  const problems: string[] = [];
  const { keySets } = await compileIssuers(partial.issuers, baseDir, options.clock ?? Date.now, problems, []);
  compileProtection(partial.protection, baseDir, partial.routeNames, problems);
  if (options.listenerTls !== false) loadListenerTls(partial.listenTls, baseDir, problems);
  await loadRemoteKeySets(keySets, options, problems, []);
  return problems.length === 0 ? err : new ConfigError([...err.problems, ...problems]);
}

/** A key speaks for one issuer only: the same key material in two sets refuses to load. */
function sharedKeyProblems(issuers: readonly CompiledIssuer[]): string[] {
  const owner = new Map<string, string>();
  const problems: string[] = [];
  for (const issuer of issuers) {
    for (const key of issuer.keys.all) {
      const other = owner.get(key.thumbprint);
      if (other !== undefined && other !== issuer.id) {
        problems.push(
          `issuers.${issuer.id}.keys: key ${key.kid} (thumbprint ${key.thumbprint}) is also in issuers.${other}; a key speaks for one issuer only`,
        );
      }
      owner.set(key.thumbprint, issuer.id);
    }
  }
  return problems;
}
