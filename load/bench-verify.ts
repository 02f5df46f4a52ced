// npm run bench:verify [-- --quick] [-- --profile]: the gateway's TokenVerifier (cache off)
// against bare node:crypto verify on the same 10,000 RS256 and 10,000 ES256 tokens, side by side;
// then what a cache that every token misses costs under each admission policy. The verifier
// comes from dist/ (npm run build first; --no-build to skip), as a deployment runs it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { loadGatewayModules } from './bench/gateway-modules.js';
import { profileRun } from './bench/profile-run.js';
import { gatewayVerifier } from './bench/verifier-setup.js';
import { gatewayCase, rawCase, rawInputs, timeSideBySide, type VerifyCase } from './bench/verify-cases.js';
import { median, medianRatio } from './measure/stats.js';
import { buildDist } from './procs/build-dist.js';
import { pinSelf, planCpus } from './procs/cpu-pinning.js';
import { profileTable } from './profile/profile-summary.js';
import { formatWithBiome } from './report/format-results.js';
import { RESULTS_DIR } from './report/write-results.js';
import { enterpriseClaims } from './setup/enterprise-claims.js';
import { signMany } from './setup/sign-jwt.js';
import { type LoadAlg, newSigningKey } from './setup/signing-key.js';

const TARGET = 0.85;
const quick = process.argv.includes('--quick') || process.env.LOAD_QUICK === '1';
const profile = process.argv.includes('--profile');
const build = buildDist(!process.argv.includes('--no-build'));
const modules = await loadGatewayModules(build.usable);
console.log(`verifier from ${modules.from}/ (${build.note})`);
const rounds = quick ? 3 : 5;
const minSeconds = quick ? 0.3 : 1;
const count = 10_000;
// Smaller than the rotation, so that every token misses it, as in the load suite's provgate-cold.
const CHURN_ENTRIES = 1000;

const plan = planCpus();
const dir = join(RESULTS_DIR, 'tmp', `bench-${process.pid}`);
mkdirSync(dir, { recursive: true });
try {
  const keys = [await newSigningKey('RS256', 'bench-rs'), await newSigningKey('ES256', 'bench-es')];
  const verifier = await gatewayVerifier(modules, dir, keys);
  const churn = async (admission: 'first-sighting' | 'second-sighting') =>
    gatewayCase(await gatewayVerifier(modules, dir, keys, { maxEntries: CHURN_ENTRIES, admission }));
  const now = Math.floor(Date.now() / 1000);
  const cases: { alg: LoadAlg; tokens: string[]; gateway: VerifyCase; raw: VerifyCase }[] = [];
  for (const key of keys) {
    const started = Date.now();
    const tokens = await signMany(key, count, (n) => enterpriseClaims(n, now));
    console.log(
      `${count} ${key.alg} tokens (~${tokens[0]!.length} bytes) signed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    cases.push({
      alg: key.alg,
      tokens,
      gateway: gatewayCase(verifier),
      raw: rawCase(key.publicKey, key.alg, rawInputs(tokens)),
    });
  }
  const rs = cases.find((c) => c.alg === 'RS256')!;
  const churnCases = {
    'cache off': rs.gateway,
    'first-sighting': await churn('first-sighting'),
    'second-sighting': await churn('second-sighting'),
  };

  // Signing used every core; measuring uses one, the same core budget for every side.
  pinSelf(plan.targetCore);
  const results = new Map<string, number[]>();
  const record = (name: string, value: number) => results.set(name, [...(results.get(name) ?? []), value]);
  for (const c of cases) timeSideBySide([c.gateway, c.raw], c.tokens, 0.2);
  const churnNames = Object.keys(churnCases) as (keyof typeof churnCases)[];
  timeSideBySide([rs.raw, ...Object.values(churnCases)], rs.tokens, 0.2);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      const [gateway, raw] = timeSideBySide([c.gateway, c.raw], c.tokens, minSeconds);
      record(`${c.alg} gateway`, gateway!);
      record(`${c.alg} raw`, raw!);
      console.log(
        `  round ${round + 1} ${c.alg}  gateway ${Math.round(gateway!).toLocaleString('en-US').padStart(7)}/s  node:crypto ${Math.round(raw!).toLocaleString('en-US').padStart(7)}/s  ratio ${(gateway! / raw!).toFixed(3)}`,
      );
    }
    const [raw, ...churned] = timeSideBySide([rs.raw, ...Object.values(churnCases)], rs.tokens, minSeconds);
    record('churn raw', raw!);
    for (const [i, name] of churnNames.entries()) record(`churn ${name}`, churned[i]!);
    console.log(
      `  round ${round + 1} RS256, 10,000 tokens through a ${CHURN_ENTRIES}-entry cache: ${churnNames.map((n, i) => `${n} ${(1e6 / churned[i]!).toFixed(1)} µs`).join(', ')}; node:crypto ${(1e6 / raw!).toFixed(1)} µs`,
    );
  }

  const rows = cases.map((c) => {
    const gateway = results.get(`${c.alg} gateway`)!;
    const raw = results.get(`${c.alg} raw`)!;
    const ratio = medianRatio(gateway, raw);
    return { alg: c.alg, gateway: median(gateway), raw: median(raw), ratio, met: ratio >= TARGET };
  });
  const churnRows = churnNames.map((name) => {
    const perSecond = results.get(`churn ${name}`)!;
    return {
      cache: name,
      microsPerToken: 1e6 / median(perSecond),
      ratio: medianRatio(perSecond, results.get('churn raw')!),
    };
  });
  const profiled = profile
    ? await profileRun(
        () => rs.gateway(rs.tokens, 0, rs.tokens.length),
        join(RESULTS_DIR, 'tmp', 'profiles', 'bench-verify-RS256.cpuprofile'),
      )
    : undefined;
  const date = new Date().toISOString();
  const md = [
    `# Verification micro-benchmark — ${date} (${quick ? 'quick' : 'full'})`,
    '',
    `| alg | TokenVerifier.verify (cache off) /s | node:crypto verify /s | ratio | target ≥ ${TARGET} |`,
    '|---|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.alg} | ${Math.round(r.gateway).toLocaleString('en-US')} | ${Math.round(r.raw).toLocaleString('en-US')} | ${r.ratio.toFixed(2)} | ${r.met ? 'met' : 'MISSED'} |`,
    ),
    '',
    `${count.toLocaleString('en-US')} distinct tokens per algorithm (~1 KB, enterprise-IdP claims), ${rounds} rounds; in each, the two sides take turns on the same slices of 200 tokens until each has spent at least ${minSeconds} s of CPU. ` +
      "Rates are per second of this process's CPU time, not wall time (on a shared machine, time taken by other processes would otherwise fall on whichever side was running); medians over rounds, the ratio the median of per-round ratios. " +
      `The gateway side is the whole TokenVerifier.verify (parse and canonical-form checks, header checks, issuer and key lookup, key state, signature, claims, scopes) from ${modules.from}/ (${build.note}); ` +
      'the node:crypto side verifies a pre-split signing input and pre-decoded signature with an imported KeyObject. ' +
      `One process${plan.pinned ? ` pinned to core ${plan.targetCore}` : ''}; ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}.`,
    '',
    `## Every token new, cache on (RS256, 10,000 tokens through a ${CHURN_ENTRIES}-entry cache)`,
    '',
    '| verified-token cache | CPU µs per verification | vs node:crypto verify |',
    '|---|---:|---:|',
    ...churnRows.map((r) => `| ${r.cache} | ${r.microsPerToken.toFixed(1)} | ${r.ratio.toFixed(2)} |`),
    '',
    'Measured side by side with node:crypto in the same rounds. Under `first-sighting` every token enters the cache and pushes one out; under `second-sighting` (the default) a token returning after 9,999 others has been forgotten by the doorkeeper and never enters.',
    ...(profiled === undefined
      ? []
      : [
          '',
          `## Profile of the gateway side (RS256, cache off, ${profiled.seconds} s)`,
          '',
          profileTable(profiled.summary),
        ]),
    '',
  ].join('\n');
  writeFileSync(
    join(RESULTS_DIR, 'bench-verify.json'),
    `${JSON.stringify(
      {
        date,
        quick,
        rounds,
        minSeconds,
        count,
        clock: 'process CPU time',
        verifierFrom: modules.from,
        build: build.note,
        rows,
        churn: churnRows,
        profile: profiled?.summary,
        raw: Object.fromEntries(results),
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(RESULTS_DIR, 'bench-verify.md'), md);
  formatWithBiome([join(RESULTS_DIR, 'bench-verify.json'), join(RESULTS_DIR, 'bench-verify.md')]);
  console.log(`\n${md}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
