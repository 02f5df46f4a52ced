// npm run bench:verify [-- --quick]: the gateway's TokenVerifier (cache off) against bare
// node:crypto verify on the same 10,000 RS256 and 10,000 ES256 tokens, in alternating rounds.
// The verifier comes from dist/ (npm run build first; --no-build to skip), as a deployment runs it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { loadGatewayModules } from './bench/gateway-modules.js';
import { gatewayVerifier } from './bench/verifier-setup.js';
import { gatewayCase, rawCase, rawInputs, timeCase, type VerifyCase } from './bench/verify-cases.js';
import { median, medianRatio } from './measure/stats.js';
import { buildDist } from './procs/build-dist.js';
import { pinSelf, planCpus } from './procs/cpu-pinning.js';
import { formatWithBiome } from './report/format-results.js';
import { RESULTS_DIR } from './report/write-results.js';
import { enterpriseClaims } from './setup/enterprise-claims.js';
import { signMany } from './setup/sign-jwt.js';
import { type LoadAlg, newSigningKey } from './setup/signing-key.js';

const TARGET = 0.8;
const quick = process.argv.includes('--quick') || process.env.LOAD_QUICK === '1';
const build = buildDist(!process.argv.includes('--no-build'));
const modules = await loadGatewayModules(build.usable);
console.log(`verifier from ${modules.from}/ (${build.note})`);
const rounds = quick ? 3 : 5;
const minSeconds = quick ? 0.3 : 1;
const count = 10_000;

const plan = planCpus();
const dir = join(RESULTS_DIR, 'tmp', `bench-${process.pid}`);
mkdirSync(dir, { recursive: true });
try {
  const keys = [await newSigningKey('RS256', 'bench-rs'), await newSigningKey('ES256', 'bench-es')];
  const verifier = await gatewayVerifier(modules, dir, keys);
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

  // Signing used every core; measuring uses one, the same core budget for both sides.
  pinSelf(plan.targetCore);
  const results = new Map<string, number[]>();
  const record = (name: string, value: number) => results.set(name, [...(results.get(name) ?? []), value]);
  for (const c of cases) {
    timeCase(c.gateway, c.tokens, 0);
    timeCase(c.raw, c.tokens, 0);
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      const pair = round % 2 === 0 ? (['gateway', 'raw'] as const) : (['raw', 'gateway'] as const);
      for (const side of pair) {
        const perSecond = timeCase(c[side], c.tokens, minSeconds);
        record(`${c.alg} ${side}`, perSecond);
        console.log(
          `  round ${round + 1} ${c.alg} ${side.padEnd(7)} ${Math.round(perSecond).toLocaleString('en-US').padStart(8)} verifications/s`,
        );
      }
    }
  }

  const rows = cases.map((c) => {
    const gateway = results.get(`${c.alg} gateway`)!;
    const raw = results.get(`${c.alg} raw`)!;
    const ratio = medianRatio(gateway, raw);
    return { alg: c.alg, gateway: median(gateway), raw: median(raw), ratio, met: ratio >= TARGET };
  });
  const date = new Date().toISOString();
  const md = [
    `# Verification micro-benchmark — ${date} (${quick ? 'quick' : 'full'})`,
    '',
    '| alg | TokenVerifier.verify (cache off) /s | node:crypto verify /s | ratio | target ≥ 0.8 |',
    '|---|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.alg} | ${Math.round(r.gateway).toLocaleString('en-US')} | ${Math.round(r.raw).toLocaleString('en-US')} | ${r.ratio.toFixed(2)} | ${r.met ? 'met' : 'MISSED'} |`,
    ),
    '',
    `${count.toLocaleString('en-US')} distinct tokens per algorithm (~1 KB, enterprise-IdP claims), ${rounds} alternating rounds of at least ${minSeconds} s per side, medians; the ratio is the median of per-round ratios. ` +
      `The gateway side is the whole TokenVerifier.verify (parse, header checks, issuer and key lookup, key state, signature, claims, scopes, fingerprint) from ${modules.from}/ (${build.note}); ` +
      'the node:crypto side verifies a pre-split signing input and pre-decoded signature with an imported KeyObject. ' +
      `One process${plan.pinned ? ` pinned to core ${plan.targetCore}` : ''}; ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}.`,
    '',
  ].join('\n');
  writeFileSync(
    join(RESULTS_DIR, 'bench-verify.json'),
    `${JSON.stringify({ date, quick, rounds, minSeconds, count, verifierFrom: modules.from, build: build.note, rows, raw: Object.fromEntries(results) }, null, 2)}\n`,
  );
  writeFileSync(join(RESULTS_DIR, 'bench-verify.md'), md);
  formatWithBiome([join(RESULTS_DIR, 'bench-verify.json'), join(RESULTS_DIR, 'bench-verify.md')]);
  console.log(`\n${md}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
