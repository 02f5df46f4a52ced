import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import {
  type Algorithm,
  type Config,
  isSafeKeyUrl,
  type SignalsConfig,
  type TransmitterConfig,
} from '../config/schema.js';
import { fetchJson } from '../keys/fetch-json.js';
import {
  type CompiledIssuer,
  IssuerRegistry,
  type KeySet,
  keySetOf,
  UNLOADED_KEY_SET,
} from '../keys/issuer-registry.js';
import { keySupportsAlg } from '../keys/key-entry.js';
import { KeySetManager } from '../keys/key-set-manager.js';
import { loadJwksFile } from '../keys/load-jwks.js';
import { RemoteKeySource } from '../keys/remote-key-source.js';
import type { BlockingEvent } from './event-types.js';

/** One transmitter, compiled once at start: the request path of a SET reads only this. */
export interface CompiledTransmitter {
  readonly name: string;
  readonly iss: string;
  /** Its entry in the transmitters' own registry: the only place its keys are looked up. */
  readonly keyOwner: CompiledIssuer;
  readonly algorithms: ReadonlySet<Algorithm>;
  readonly audiences: ReadonlySet<string>;
  /** Issuer ids whose tokens its events govern. */
  readonly governs: readonly string[];
  readonly delivery: 'push' | 'poll';
  /** SHA-256 of the Authorization header a push must carry, for a constant-time comparison. */
  readonly authorization: Buffer | undefined;
  readonly poll: TransmitterConfig['poll'];
  readonly maxAgeSeconds: number;
  readonly clockSkewSeconds: number;
  readonly legacySubjectType: boolean;
  readonly onStreamDown: 'serve' | 'fail-closed';
  readonly maxTokenAgeSeconds: number | undefined;
  /** Complex-subject members a SET may not carry unless this receiver acts on them (SSF 1.0 3.6). */
  criticalMembers: ReadonlySet<string>;
  readonly verification: VerificationTarget;
}

/** Where and how `signals verify` asks this transmitter for a verification event (SSF 1.0 8.1.4). */
export interface VerificationTarget {
  /** Configured (verificationEndpoint); else read from `configuration` when asked. */
  readonly endpoint: string | undefined;
  /** The transmitter's /.well-known/ssf-configuration, for its `verification_endpoint`. */
  readonly configuration: string | undefined;
  readonly streamId: string | undefined;
  /** The credential this receiver presents to the transmitter (poll.authorization). */
  readonly authorization: string | undefined;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export interface BlockRule {
  readonly values: ReadonlySet<string>;
  /** Route names; undefined is every route. */
  readonly routes: ReadonlySet<string> | undefined;
}

export interface CompiledSignals {
  readonly config: SignalsConfig;
  readonly pushPath: string;
  readonly byName: ReadonlyMap<string, CompiledTransmitter>;
  readonly byIss: ReadonlyMap<string, CompiledTransmitter>;
  /**
   * The transmitters' key sets, apart from the token issuers': a transmitter's keys speak for it
   * alone, and a token issuer's key never signs a SET (nor the reverse).
   */
  readonly registry: IssuerRegistry;
  readonly keySets: KeySetManager;
  readonly blockOn: ReadonlyMap<BlockingEvent, BlockRule>;
  readonly warnings: readonly string[];
}

export interface CompileSignalsOptions {
  readonly clock?: () => number;
  /** Fetch remote key sets now (default true). */
  readonly fetchKeys?: boolean;
}

/**
 * The `signals:` section, checked against the rest of the configuration; every problem is
 * returned with its path (the caller throws them together with its own).
 */
export async function compileSignals(
  config: Config,
  configPath: string,
  /** The token issuers of the same configuration: their keys never sign a SET. */
  tokenIssuers: IssuerRegistry,
  problems: string[],
  options: CompileSignalsOptions = {},
): Promise<CompiledSignals | undefined> {
  const signals = config.signals;
  if (signals === undefined) return undefined;
  const baseDir = dirname(resolve(configPath));
  const warnings: string[] = [];
  const owners: CompiledIssuer[] = [];
  const transmitters: CompiledTransmitter[] = [];
  const files = new Map<string, string>();
  const byIss = new Map<string, CompiledTransmitter>();
  for (const [name, def] of Object.entries(signals.transmitters)) {
    const path = `signals.transmitters.${name}`;
    for (const [i, issuerId] of def.subjects.entries()) {
      if (config.issuers[issuerId] === undefined)
        problems.push(`${path}.subjects.${i}: unknown issuer ${issuerId}`);
    }
    let keys: KeySet = UNLOADED_KEY_SET;
    if (def.keys.file !== undefined) {
      const file = resolve(baseDir, def.keys.file);
      files.set(name, file);
      const loaded = await loadJwksFile(file, name, {}, `${path}.keys.file`, {
        issuer: def.issuer,
        shared: false,
      });
      problems.push(...loaded.problems, ...loaded.rejected);
      warnings.push(...loaded.warnings);
      for (const key of loaded.keys) {
        if (!def.algorithms.some((alg) => keySupportsAlg(key, alg)))
          warnings.push(`${path}: key ${key.kid} fits none of ${def.algorithms.join(', ')}`);
      }
      keys = keySetOf(loaded.keys);
    }
    const keyOwner: CompiledIssuer = {
      id: name,
      iss: def.issuer,
      role: 'identity-provider',
      algorithms: new Set(def.algorithms),
      clockSkewSeconds: def.clockSkewSeconds,
      maxTokenLifetimeSeconds: undefined,
      requireTyp: undefined,
      tenants: undefined,
      keys,
    };
    owners.push(keyOwner);
    const compiled: CompiledTransmitter = {
      name,
      iss: def.issuer,
      keyOwner,
      algorithms: new Set(def.algorithms),
      audiences: new Set(typeof def.audience === 'string' ? [def.audience] : def.audience),
      governs: def.subjects,
      delivery: def.delivery,
      authorization:
        def.authorization === undefined
          ? undefined
          : createHash('sha256').update(def.authorization, 'utf8').digest(),
      poll: def.poll,
      maxAgeSeconds: def.maxAgeSeconds,
      clockSkewSeconds: def.clockSkewSeconds,
      legacySubjectType: def.legacySubjectType,
      onStreamDown: def.onStreamDown,
      maxTokenAgeSeconds: def.maxTokenAgeSeconds,
      criticalMembers: new Set(def.criticalSubjectMembers ?? []),
      verification: {
        endpoint: def.verificationEndpoint,
        configuration: def.keys.discovery ?? configurationUrlOf(def.issuer),
        streamId: def.streamId,
        authorization: def.poll?.authorization,
        timeoutMs: def.keys.timeoutSeconds * 1000,
        maxBytes: def.keys.maxBytes,
      },
    };
    const other = byIss.get(def.issuer);
    if (other !== undefined)
      problems.push(`${path}.issuer: same issuer as signals.transmitters.${other.name}`);
    byIss.set(def.issuer, compiled);
    transmitters.push(compiled);
  }
  problems.push(...sharedKeyProblems(owners, tokenIssuers));

  const routeNames = new Set(config.routes.map((r) => r.name));
  const blockOn = new Map<BlockingEvent, BlockRule>();
  for (const [event, rule] of Object.entries(signals.blockOn) as [
    BlockingEvent,
    SignalsConfig['blockOn'][BlockingEvent],
  ][]) {
    if (rule === undefined) continue;
    for (const [i, route] of (rule.routes ?? []).entries()) {
      if (!routeNames.has(route))
        problems.push(`signals.blockOn.${event}.routes.${i}: unknown route ${route}`);
    }
    blockOn.set(event, {
      values: new Set(rule.values),
      routes: rule.routes === undefined ? undefined : new Set(rule.routes),
    });
  }

  const registry = new IssuerRegistry(owners);
  const keySets = new KeySetManager(registry, options.clock ?? Date.now);
  for (const [name, def] of Object.entries(signals.transmitters)) {
    const file = files.get(name);
    if (file !== undefined) keySets.addFile(name, file);
    else keySets.addRemote(remoteOptions(name, def));
  }
  if (problems.length === 0 && keySets.hasRemote && options.fetchKeys !== false) {
    const initial = await keySets.loadInitial();
    problems.push(...initial.problems);
    warnings.push(...initial.warnings);
    for (const transmitter of transmitters) {
      const def = signals.transmitters[transmitter.name]!;
      if (def.keys.discovery === undefined || def.criticalSubjectMembers !== undefined) continue;
      transmitter.criticalMembers = await discoveredCriticalMembers(def, warnings);
    }
  }
  return {
    config: signals,
    pushPath: signals.push.path,
    byName: new Map(transmitters.map((t) => [t.name, t])),
    byIss,
    registry,
    keySets,
    blockOn,
    warnings,
  };
}

/**
 * `critical_subject_members` of a transmitter's configuration document, read once at start (a
 * transmitter that adds one later is read at the next start, or set criticalSubjectMembers).
 */
async function discoveredCriticalMembers(
  def: TransmitterConfig,
  warnings: string[],
): Promise<ReadonlySet<string>> {
  const { keys } = def;
  try {
    const { body } = await fetchJson(keys.discovery!, {
      timeoutMs: keys.timeoutSeconds * 1000,
      maxBytes: keys.maxBytes,
    });
    const members = (body as { critical_subject_members?: unknown } | null)?.critical_subject_members;
    return new Set(Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : []);
  } catch (err) {
    warnings.push(`${keys.discovery}: critical_subject_members not read (${(err as Error).message})`);
    return new Set();
  }
}

/**
 * SSF 1.0 section 7.2: /.well-known/ssf-configuration inserted between the issuer's host and
 * path. Undefined for an issuer that is not a URL this receiver would fetch from.
 */
function configurationUrlOf(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return undefined;
  }
  if (!isSafeKeyUrl(issuer)) return undefined;
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/ssf-configuration${path}`;
}

function remoteOptions(name: string, def: TransmitterConfig) {
  const { keys } = def;
  const kind = keys.url !== undefined ? ('url' as const) : ('discovery' as const);
  const location = (keys.url ?? keys.discovery)!;
  return {
    issuerId: name,
    keys,
    // An SSF transmitter configuration document (/.well-known/ssf-configuration) has the shape
    // of an OpenID discovery document where it matters: `issuer` must be the configured one
    // (SSF 1.0 section 7.2.4), and `jwks_uri` names the keys.
    source: new RemoteKeySource({
      kind,
      location,
      issuer: def.issuer,
      limits: { timeoutMs: keys.timeoutSeconds * 1000, maxBytes: keys.maxBytes },
    }),
    context: {
      issuerId: name,
      binding: { issuer: def.issuer, shared: keys.shared },
      windows: {},
      path: `signals.transmitters.${name}.keys.${kind}`,
      removedKeyGraceMs: keys.removedKeyGraceSeconds * 1000,
    },
  };
}

/**
 * A key in a transmitter's file set that is also a token issuer's, or another transmitter's:
 * whoever signs that issuer's tokens could sign these SETs, and a SET could pass for a token.
 * Refused at load; remote sets are checked again for every SET (select-set-key.ts).
 */
function sharedKeyProblems(owners: readonly CompiledIssuer[], tokenIssuers: IssuerRegistry): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const owner of owners) {
    for (const key of owner.keys.all) {
      const where = `signals.transmitters.${owner.id}.keys: key ${key.kid}`;
      const other = seen.get(key.thumbprint);
      if (other !== undefined && other !== owner.id)
        problems.push(
          `${where} is also in signals.transmitters.${other}; a key speaks for one transmitter only`,
        );
      // '' is never an issuer id, so this asks for any issuer holding the material.
      const issuer = tokenIssuers.otherOwnerOf(key.thumbprint, '');
      if (issuer !== undefined)
        problems.push(`${where} is also a key of issuers.${issuer}; a token issuer's key never signs a SET`);
      seen.set(key.thumbprint, owner.id);
    }
  }
  return problems;
}
