import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProtectionConfig } from '../config/schema.js';
import { type Network, parseNetwork } from './cidr.js';
import type { CriticalEventSpec } from './critical-event.js';
import type { DenyListFile, DenyListSpec } from './deny-list.js';
import { parseDenyList } from './deny-list-file.js';
import type { FailureBurstSpec } from './failure-burst.js';
import type { RateLimitSpec } from './rate-limits.js';
import type { TokenReplaySpec } from './token-replay.js';
import type { VolumeSpikeSpec } from './volume-spike.js';

/** The protection section, checked against the routes and with deny-list files read. */
export interface CompiledProtection {
  readonly trustedProxies: readonly Network[];
  readonly denyList: DenyListSpec | undefined;
  readonly rateLimits: readonly RateLimitSpec[];
  readonly tokenReplay: TokenReplaySpec | undefined;
  readonly failureBurst: FailureBurstSpec | undefined;
  readonly criticalEvent: CriticalEventSpec | undefined;
  readonly volumeSpike: VolumeSpikeSpec | undefined;
  readonly routeNames: readonly string[];
  readonly shareIntervalMs: number;
}

/** Every problem is pushed as `path: message`; files are resolved against `baseDir` (the config's folder). */
export function compileProtection(
  config: ProtectionConfig | undefined,
  baseDir: string,
  routeNames: readonly string[],
  problems: string[],
): CompiledProtection | undefined {
  if (config === undefined) return undefined;
  const path = 'protection';
  const knownRoutes = new Set(routeNames);
  const routesOf = (list: readonly string[] | undefined, at: string): ReadonlySet<string> | undefined => {
    if (list === undefined) return undefined;
    for (const [j, name] of list.entries()) {
      if (!knownRoutes.has(name)) problems.push(`${at}.${j}: unknown route ${name}`);
    }
    return new Set(list);
  };

  const names = new Set<string>();
  const rateLimits = config.rateLimits.map((limit, i): RateLimitSpec => {
    if (names.has(limit.name))
      problems.push(`${path}.rateLimits.${i}.name: duplicate rate limit ${limit.name}`);
    names.add(limit.name);
    return { ...limit, routes: routesOf(limit.routes, `${path}.rateLimits.${i}.routes`) };
  });

  const { tokenReplay, failureBurst, criticalEvent, volumeSpike } = config.anomalies;
  return {
    trustedProxies: networks(config.trustedProxies, `${path}.trustedProxies`, problems),
    denyList: config.denyNetworks && {
      cidrs: networks(config.denyNetworks.cidrs, `${path}.denyNetworks.cidrs`, problems),
      files: config.denyNetworks.files.map((file, i) =>
        readListFile(resolve(baseDir, file), `${path}.denyNetworks.files.${i}`, problems),
      ),
      enforce: config.denyNetworks.mode === 'enforce',
      pollMs: config.denyNetworks.pollSeconds * 1000,
    },
    rateLimits,
    tokenReplay,
    failureBurst,
    criticalEvent,
    volumeSpike: volumeSpike && {
      ...volumeSpike,
      routes: routesOf(volumeSpike.routes, `${path}.anomalies.volumeSpike.routes`),
    },
    routeNames,
    shareIntervalMs: config.shareIntervalMilliseconds,
  };
}

function networks(list: readonly string[], at: string, problems: string[]): Network[] {
  const out: Network[] = [];
  for (const [i, text] of list.entries()) {
    const network = parseNetwork(text);
    if (network === undefined) problems.push(`${at}.${i}: not an IP address or CIDR: ${text}`);
    else out.push(network);
  }
  return out;
}

/** A deny-list file that cannot be read, or has a bad line, stops the load: a list is never half applied. */
function readListFile(path: string, at: string, problems: string[]): DenyListFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${at}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return { path, networks: [] };
  }
  const parsed = parseDenyList(text, path);
  for (const problem of parsed.problems) problems.push(`${at}: ${problem}`);
  return { path, networks: parsed.networks };
}
