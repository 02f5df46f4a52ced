import { profileTable } from '../profile/profile-summary.js';
import type { TargetResult } from './issue-targets.js';
import type { RunReport } from './run-report.js';

const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)} %` : '–');
const n2 = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(2));

function targetLine(t: TargetResult): string {
  const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED';
  const measured = t.measured === null ? '–' : `${t.measured.toFixed(2)}${t.unit === 'ms' ? ' ms' : ''}`;
  let gap = '';
  if (t.met === false && t.measured !== null) {
    gap =
      t.unit === 'ratio'
        ? ` (${((t.threshold / t.measured - 1) * 100).toFixed(0)} % more throughput needed)`
        : ` (${(t.measured - t.threshold).toFixed(2)} ms over)`;
  }
  const cpu = t.measuredCpu === null ? '–' : t.measuredCpu.toFixed(2);
  return `| ${t.goal} | ${measured} | ${cpu} | ${verdict}${gap} |`;
}

/** The run as Markdown: the table the README quotes, the targets, the method, the profiles. */
export function renderMarkdown(r: RunReport): string {
  const m = r.method;
  const out = [
    `# provgate load run — ${r.date} (${r.mode}${r.partial ? ', partial' : ''})`,
    '',
    '| scenario | req/s | 200/s | p50 ms | p99 ms | vs lean proxy | vs HAProxy JWT | target CPU µs/req | CPU vs lean | CPU vs HAProxy JWT | target busy | cache hits | answers |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...r.scenarios.map(
      (s) =>
        `| ${s.name} | ${n0(s.rps)} | ${n0(s.okRps)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${n2(s.vsLean)} | ${n2(s.vsHaproxyJwt)} | ${n0(s.cpuUsPerRequest)} | ${n2(s.cpuVsLean)} | ${n2(s.cpuVsHaproxyJwt)} | ${pct(s.targetBusy)} | ${s.cacheHitRate === null ? '–' : pct(s.cacheHitRate)} | ${s.status.text}${s.generatorCpu > 0.9 ? ' ⚠ generator-bound' : ''} |`,
    ),
    '',
    'req/s, p50, p99: medians over rounds at saturation. "CPU" columns: the target process\'s CPU time per request (all threads), and ratios of the capacity per core it implies (higher is better). "target busy": share of its core the target used; below ~95 % at saturation, something else held the core. "cache hits": share of provgate\'s verified-token cache lookups that hit, from its admin /metrics.',
    '',
  ];
  if (r.halfLoad !== null) {
    out.push(
      `Latency at a fixed ${n0(r.halfLoad.rate)} req/s (half of provgate-10k's maximum), paced open loop (one request due every 1/rate s, latency counted from when it was due; node:http keep-alive, at most ${r.method.connections} connections), medians over rounds:`,
      '',
      '| scenario | req/s | p50 ms | p99 ms |',
      '|---|---:|---:|---:|',
      ...r.halfLoad.rows.map(
        (h) => `| ${h.name} | ${n0(h.rps)} | ${h.p50Ms.toFixed(2)} | ${h.p99Ms.toFixed(2)} |`,
      ),
      '',
    );
  }
  out.push(
    "Targets of issue 11 (medians of per-round ratios; the verdict is on throughput, the CPU column is the same ratio from the target's CPU time per request):",
    '',
    '| target | measured | from CPU/request | verdict |',
    '|---|---:|---:|---|',
  );
  out.push(...r.targets.map(targetLine), '');
  out.push(
    '## Method',
    '',
    ...r.scenarios.map((s) => `- **${s.name}**: ${s.description}`),
    `- ${m.rounds} alternating rounds (order reversed every other round) of ${m.durationSeconds} s per scenario after a ${m.warmupSeconds} s warm-up each; medians reported. autocannon, ${m.connections} connections, closed loop (saturation), in its own process.`,
    `- Tokens: ${m.distinctTokens.toLocaleString('en-US')} distinct RS256 tokens of ~${m.tokenBytes} bytes with enterprise-IdP claims; invalid pool = bad signature, unknown kid, garbage, expired in equal parts. Upstream: ${m.upstream}, ${m.upstreamBodyBytes} bytes of JSON, one process on the generator's core behind every proxy (and one on the targets' core for the upstream-alone row).`,
    `- Pinning: ${m.pinning}.`,
    `- provgate: ${m.provgate}. Bare proxy: ${m.bareProxy}. Both log at info to /dev/null.`,
    `- HAProxy: ${m.haproxy}.`,
    `- Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.platform}. Shared machine: absolute numbers are noisy, the ratios from alternating rounds are what to compare.`,
    '',
  );
  for (const p of r.profiles) {
    out.push(
      `## CPU profile: ${p.scenario} (${n0(p.rps)} req/s under the profiler)`,
      '',
      profileTable(p.summary),
      '',
    );
  }
  if (r.notes.length > 0) out.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}
