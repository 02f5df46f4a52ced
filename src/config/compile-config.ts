import { dirname, resolve } from 'node:path';
import { type CompiledIssuer, IssuerRegistry, keySetOf } from '../keys/issuer-registry.js';
import { keySupportsAlg } from '../keys/key-entry.js';
import { loadJwksFile } from '../keys/load-jwks.js';
import { type CompiledRoute, compileRoutes } from '../proxy/compile-routes.js';
import { ConfigError } from './config-error.js';
import type { Config } from './schema.js';

/** Everything the request path needs, computed once from a validated configuration. */
export interface CompiledConfig {
  readonly config: Config;
  readonly registry: IssuerRegistry;
  readonly routes: readonly CompiledRoute[];
  readonly warnings: readonly string[];
}

export async function compileConfig(config: Config, configPath: string): Promise<CompiledConfig> {
  const baseDir = dirname(resolve(configPath));
  const problems: string[] = [];
  const warnings: string[] = [];
  const issuers: CompiledIssuer[] = [];
  const seenIss = new Map<string, string>();

  for (const [id, def] of Object.entries(config.issuers)) {
    const path = `issuers.${id}`;
    const previous = seenIss.get(def.issuer);
    if (previous !== undefined) problems.push(`${path}.issuer: same iss as issuers.${previous}`);
    seenIss.set(def.issuer, id);
    const loaded = await loadJwksFile(
      resolve(baseDir, def.keys.file),
      id,
      def.keyValidity ?? {},
      `${path}.keys.file`,
    );
    problems.push(...loaded.problems);
    warnings.push(...loaded.warnings);
    for (const key of loaded.keys) {
      if (!def.algorithms.some((alg) => keySupportsAlg(key, alg))) {
        warnings.push(
          `${path}: key ${key.kid} (${key.kty} ${key.crv ?? ''}) fits none of ${def.algorithms.join(', ')}`,
        );
      }
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
      keys: keySetOf(loaded.keys),
    });
  }
  problems.push(...sharedKeyProblems(issuers));

  const routes = compileRoutes(config, problems);
  const ids = new Set(Object.keys(config.issuers));
  for (const [kind, list] of Object.entries(config.revocations)) {
    for (const [i, entry] of (list as { issuer: string }[]).entries()) {
      if (!ids.has(entry.issuer))
        problems.push(`revocations.${kind}.${i}.issuer: unknown issuer ${entry.issuer}`);
    }
  }
  if (config.workers !== 1 && config.store.kind !== 'redis') {
    // Worker processes share nothing in memory: a revocation or block taken by one must reach all.
    problems.push('workers: more than one worker needs store.kind redis, so that revocations and blocks are shared');
  }
  if (config.store.kind === 'redis' && !config.store.url && !config.store.redisOptions) {
    problems.push('store.url: required when store.kind is redis');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, registry: new IssuerRegistry(issuers), routes, warnings };
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
