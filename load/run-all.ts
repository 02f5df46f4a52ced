// npm run load [-- --only provgate-10k,haproxy-jwt-10k] [--quick]: every scenario of issues 5 and 11,
// measured in alternation on pinned cores, written to load/results/. See load/README.md.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { GeneratorClient } from './generator/generator-client.js';
import { type Bench, measureAlternating, type Outcomes, type Schedule } from './measure/alternate-rounds.js';
import { parseOptions } from './measure/options.js';
import { preflight } from './measure/preflight.js';
import { HALF_LOAD_SCENARIOS, SCENARIOS, type Scenario, type TargetName } from './measure/scenarios.js';
import {
  bareProxyTransport,
  startBackend,
  startTargets,
  type TargetContext,
  upstreamKind,
} from './measure/start-targets.js';
import { median } from './measure/stats.js';
import { summarize } from './measure/summarize.js';
import { compileTargets } from './procs/compile-targets.js';
import { pinSelf, planCpus } from './procs/cpu-pinning.js';
import { findHaproxy } from './procs/find-haproxy.js';
import { ProcessGroup } from './procs/process-group.js';
import { type CapturedProfile, captureProfile } from './profile/capture-profile.js';
import { issueTargets } from './report/issue-targets.js';
import type { RunReport } from './report/run-report.js';
import { RESULTS_DIR, writeResults } from './report/write-results.js';
import { newSigningKey, publicPem } from './setup/signing-key.js';
import { buildPools, writePools } from './setup/token-pools.js';
import { MAIL_BODY } from './targets/mail-body.js';
import { prepareProvgate } from './targets/provgate-launch.js';

const MAX_PROFILES = 3;
const log = (line: string) => console.log(line);

function selectScenarios(only: readonly string[] | undefined): Scenario[] {
  if (only === undefined) return [...SCENARIOS];
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  return SCENARIOS.filter((s) => only.includes(s.name));
}

async function main(group: ProcessGroup, runDir: string): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  let scenarios = selectScenarios(options.only);
  const notes: string[] = [];
  const plan = planCpus();
  pinSelf(plan.driverCore);
  log(`cpu: ${plan.note}`);

  const haproxy = findHaproxy();
  const haproxyNote = haproxy.found
    ? `HAProxy ${haproxy.version} (${haproxy.path}, ${haproxy.note})`
    : `skipped: ${haproxy.note}`;
  if (!haproxy.found && scenarios.some((s) => s.target.startsWith('haproxy'))) {
    notes.push(`HAProxy scenarios skipped: ${haproxy.note}`);
    log(`HAPROXY SKIPPED: ${haproxy.note}`);
    scenarios = scenarios.filter((s) => !s.target.startsWith('haproxy'));
  }
  const wantsProvgate = scenarios.some((s) => s.target.startsWith('provgate'));
  const launch = prepareProvgate(options.build && wantsProvgate);
  if (wantsProvgate) log(`provgate: ${launch.note}`);

  mkdirSync(runDir, { recursive: true });
  const key = await newSigningKey('RS256', 'load-rs-1');
  const pemPath = join(runDir, 'enterprise-pub.pem');
  writeFileSync(pemPath, publicPem(key));
  const started = Date.now();
  const pools = await buildPools(key, options.tokens);
  const poolFiles = writePools(runDir, pools);
  const tokenBytes = Math.round(pools.valid.reduce((a, t) => a + t.length, 0) / pools.valid.length);
  log(
    `tokens: ${options.tokens} valid (~${tokenBytes} bytes) + ${pools.invalid.length} invalid in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const compiledTargets = compileTargets(join(runDir, 'build'));
  log(`bare proxy: ${compiledTargets.note}, ${bareProxyTransport().note}`);
  const ctx: TargetContext = { group, plan, dir: runDir, key, pemPath, launch, haproxy, compiledTargets };
  const backend = await startBackend(ctx);
  const targets = await startTargets(ctx, backend, new Set<TargetName>(scenarios.map((s) => s.target)));
  await preflight(scenarios, targets, poolFiles);
  const bench: Bench = {
    generator: GeneratorClient.start(group, plan.driverCore),
    targets,
    pools: poolFiles,
    poolSizes: {
      one: pools.one.length,
      valid: pools.valid.length,
      invalid: pools.invalid.length,
      mixed: pools.mixed.length,
      badsig: pools.badsig.length,
    },
    log,
  };
  const schedule: Schedule = options;
  log(
    `measuring ${scenarios.length} scenarios: ${schedule.rounds} rounds × ${schedule.durationSeconds} s (${options.quick ? 'quick' : 'full'} mode)`,
  );
  const outcomes = await measureAlternating(bench, scenarios, schedule);

  let halfLoad: RunReport['halfLoad'] = null;
  let halfOutcomes: Outcomes | undefined;
  const halfScenarios = scenarios.filter((s) => HALF_LOAD_SCENARIOS.includes(s.name));
  if (halfScenarios.length === HALF_LOAD_SCENARIOS.length) {
    const rate = Math.round(median(outcomes.get('provgate-10k')!.map((o) => o.rps)) / 2);
    log(`latency at a fixed ${rate} req/s (half of provgate-10k's maximum)`);
    halfOutcomes = await measureAlternating(bench, halfScenarios, schedule, rate);
    halfLoad = {
      rate,
      rows: halfScenarios.map((s) => {
        const list = halfOutcomes!.get(s.name)!;
        return {
          name: s.name,
          rps: median(list.map((o) => o.rps)),
          p50Ms: median(list.map((o) => o.p50Ms)),
          p99Ms: median(list.map((o) => o.p99Ms)),
        };
      }),
    };
  }

  const summaries = summarize(scenarios, outcomes);
  const verdicts = issueTargets(outcomes, halfOutcomes);
  const toProfile = profileChoice(options.profile, scenarios, verdicts);
  const profiles: CapturedProfile[] = [];
  if (toProfile.length > 0) {
    const profileDir = join(RESULTS_DIR, 'tmp', 'profiles');
    mkdirSync(profileDir, { recursive: true });
    for (const s of toProfile) {
      log(`profiling ${s.name} (node --cpu-prof) ...`);
      profiles.push(await captureProfile(ctx, backend, bench, s, schedule, profileDir));
    }
  }
  await group.stopAll();

  const report: RunReport = {
    date: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    partial: options.only !== undefined,
    method: {
      durationSeconds: schedule.durationSeconds,
      warmupSeconds: schedule.warmupSeconds,
      rounds: schedule.rounds,
      connections: schedule.connections,
      distinctTokens: options.tokens,
      tokenBytes,
      upstreamBodyBytes: MAIL_BODY.length,
      upstream: upstreamKind(ctx),
      pinning: plan.note,
      provgate: launch.note.trim(),
      bareProxy: `${compiledTargets.note}, ${bareProxyTransport().note}`,
      haproxy: haproxyNote,
    },
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: plan.cores,
      node: process.version,
      platform: `${platform()} ${release()}`,
    },
    scenarios: summaries,
    halfLoad,
    targets: verdicts,
    profiles,
    notes,
    raw: Object.fromEntries(outcomes),
  };
  const written = writeResults(report);
  log('');
  log(written.markdown);
  log(`written: ${written.dir}.{json,md,svg}`);
  if (summaries.some((s) => !s.status.ok)) {
    log('SOME SCENARIOS GOT UNEXPECTED ANSWERS: their numbers mean nothing until that is fixed.');
    process.exitCode = 1;
  }
}

/** The provgate scenarios whose targets were missed (or the main two, with --profile). */
function profileChoice(
  mode: 'auto' | 'always' | 'never',
  scenarios: readonly Scenario[],
  targets: ReturnType<typeof issueTargets>,
): Scenario[] {
  if (mode === 'never') return [];
  const names =
    mode === 'always'
      ? ['provgate-10k', 'lean-proxy', 'provgate-cold', 'provgate-invalid']
      : [...new Set(targets.filter((t) => t.met === false).map((t) => t.profileScenario))];
  return scenarios.filter((s) => names.includes(s.name)).slice(0, MAX_PROFILES);
}

const group = new ProcessGroup();
const runDir = join(RESULTS_DIR, 'tmp', `run-${process.pid}`);
const cleanUp = async () => {
  await group.stopAll();
  rmSync(runDir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every process this run started`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  await main(group, runDir);
} catch (err) {
  console.error(`load run failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
