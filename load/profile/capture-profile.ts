import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Bench, type Schedule, warmUp } from '../measure/alternate-rounds.js';
import { type CacheCounters, readCacheCounters } from '../measure/cache-counters.js';
import type { Scenario } from '../measure/scenarios.js';
import {
  type Backend,
  COLD_CACHE_ENTRIES,
  leanProxyCommand,
  type TargetContext,
} from '../measure/start-targets.js';
import { freePort } from '../procs/free-port.js';
import { waitForPort } from '../procs/wait-ready.js';
import { MAIL_PATH, writeGatewayConfig } from '../setup/gateway-config.js';
import { type ProfileSummary, summarizeProfile } from './profile-summary.js';

// Long enough that a few hundred thousand samples describe the steady state, even in quick mode.
const PROFILE_SECONDS = 8;
const PROFILE_WARMUP_SECONDS = 3;

export interface CapturedProfile {
  readonly scenario: string;
  readonly file: string;
  readonly rps: number;
  /** Verified-token cache hits during the profiled part, as a check that it profiled what it says. */
  readonly cacheHitRate: number | null;
  readonly summary: ProfileSummary;
}

/**
 * A separate provgate process under `node --cpu-prof`, driven like the measured one for one
 * measurement (after a warm-up), then stopped with SIGTERM so that it writes its profile.
 * The profiled numbers are not reported as throughput: the profiler costs a few percent.
 */
export async function captureProfile(
  ctx: TargetContext,
  backend: Backend,
  bench: Bench,
  scenario: Scenario,
  schedule: Schedule,
  outDir: string,
): Promise<CapturedProfile> {
  const port = await freePort();
  const adminPort = await freePort();
  const config = writeGatewayConfig({
    dir: ctx.dir,
    name: `profiled-${scenario.name}`,
    port,
    adminPort,
    upstream: backend.url,
    key: ctx.key,
    ...(scenario.target === 'provgate-cold' ? { cacheEntries: COLD_CACHE_ENTRIES } : {}),
  });
  const name = `${scenario.name}.cpuprofile`;
  const flags = ['--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}`];
  // The lean proxy too, to compare provgate's profile with it function by function.
  const lean = scenario.target === 'lean-proxy';
  const cmd = lean ? leanProxyCommand(ctx, backend, port, flags) : ctx.launch.command(config.path, flags);
  const spawnedAt = Date.now();
  const child = ctx.group.start({ name: `profiled ${scenario.name}`, ...cmd, core: ctx.plan.targetCore });
  await waitForPort(child, port);
  const url = `http://127.0.0.1:${port}${MAIL_PATH}`;
  const job = { url, connections: schedule.connections, poolFile: bench.pools[scenario.pool] };
  const metrics = lean
    ? undefined
    : { url: `http://127.0.0.1:${adminPort}/metrics`, token: config.adminToken };
  const warmSchedule = {
    ...schedule,
    warmupSeconds: Math.max(PROFILE_WARMUP_SECONDS, schedule.warmupSeconds),
  };
  const target = { url, pid: child.process.pid, ...(metrics === undefined ? {} : { metrics }) };
  // Until the whole pool has been sent once, as for the measured runs.
  await warmUp({ ...bench, targets: new Map([[scenario.target, target]]) }, scenario, warmSchedule);
  // Only the steady state counts: start-up and warm-up samples are skipped in the summary.
  const skipMs = Date.now() - spawnedAt;
  const before = metrics === undefined ? undefined : await readCacheCounters(metrics);
  const measured = await bench.generator.run({
    ...job,
    durationSeconds: Math.max(PROFILE_SECONDS, schedule.durationSeconds),
  });
  const after = metrics === undefined ? undefined : await readCacheCounters(metrics);
  await ctx.group.stop(child, 30_000);
  if (!readdirSync(outDir).includes(name))
    throw new Error(`no profile written for ${scenario.name}:\n${child.stderrTail()}`);
  const file = join(outDir, name);
  return {
    scenario: scenario.name,
    file,
    rps: measured.rps,
    cacheHitRate: hitRateBetween(before, after),
    summary: summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), 15, skipMs),
  };
}

function hitRateBetween(before: CacheCounters | undefined, after: CacheCounters | undefined): number | null {
  if (before === undefined || after === undefined) return null;
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  return lookups === 0 ? null : hits / lookups;
}
