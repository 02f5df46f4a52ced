// npm run soak:memory [-- --seconds 300 --tokens 1000000 --downloads 1000]: issue 11's memory target.
// One gateway (compiled, pinned to its own core) serves a stream of distinct ES256 tokens, each
// new, while `downloads` clients hold slow attachment downloads open through it for the whole run.
// Its RSS is sampled from /proc; the target is RSS flat within 10 % from the end of the warm-up
// (the verified-token cache full) to the end. Results: load/results/soak-memory.{json,md}.
import { setMaxListeners } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { pinSelf, planCpus } from './procs/cpu-pinning.js';
import { freePort } from './procs/free-port.js';
import { ProcessGroup } from './procs/process-group.js';
import { waitForPort } from './procs/wait-ready.js';
import { RESULTS_DIR } from './report/write-results.js';
import { enterpriseClaims } from './setup/enterprise-claims.js';
import { MAIL_PATH, writeGatewayConfig } from './setup/gateway-config.js';
import { signJwt } from './setup/sign-jwt.js';
import { newSigningKey } from './setup/signing-key.js';
import { prepareProvgate } from './targets/provgate-launch.js';

interface Options {
  readonly seconds: number;
  readonly tokens: number;
  readonly downloads: number;
  readonly warmupSeconds: number;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? undefined : Number(process.argv[i + 1]);
  return value === undefined || !Number.isFinite(value) ? fallback : value;
}

const options: Options = {
  seconds: option('seconds', 300),
  tokens: option('tokens', 1_000_000),
  downloads: option('downloads', 1000),
  warmupSeconds: option('warmup', 60),
};
const CONCURRENCY = 32;
const SAMPLE_MS = 5000;
const log = (line: string) => console.log(line);

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** A download that reads a little, then nothing for a while: the proxy must not buffer for it. */
function slowDownload(port: number, token: string, stop: AbortSignal, read: { bytes: number }): void {
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    path: `/api/mail/attachments/${read.bytes}`,
    headers: { authorization: `Bearer ${token}` },
    signal: stop,
  });
  req.on('error', () => {});
  req.on('response', (res) => {
    res.pause();
    const tick = setInterval(() => {
      // One chunk a second: about 16 KiB/s per client, far slower than the upstream writes.
      const chunk = res.read() as Buffer | null;
      if (chunk !== null) read.bytes += chunk.length;
    }, 1000);
    res.on('close', () => clearInterval(tick));
    stop.addEventListener('abort', () => clearInterval(tick), { once: true });
  });
  req.end();
}

async function main(group: ProcessGroup): Promise<void> {
  const plan = planCpus();
  pinSelf(plan.driverCore);
  const dir = join(tmpdir(), `provgate-soak-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const launch = prepareProvgate(true);
  log(`provgate: ${launch.note}; cpu: ${plan.note}`);
  const key = await newSigningKey('ES256', 'soak-es-1');

  const upstreamPort = await freePort();
  const upstream = group.start({
    name: 'soak-upstream',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      new URL('./targets/soak-upstream.ts', import.meta.url).pathname,
      '--port',
      String(upstreamPort),
    ],
    core: plan.driverCore,
  });
  await waitForPort(upstream, upstreamPort);
  const port = await freePort();
  const adminPort = await freePort();
  const config = writeGatewayConfig({
    dir,
    name: 'soak',
    port,
    adminPort,
    upstream: `http://127.0.0.1:${upstreamPort}`,
    key,
    // Each slow download holds an upstream connection for the whole run: with the default pool
    // (128) they would take every connection and the token traffic would get 503 upstream_busy.
    upstreamConnections: options.downloads + CONCURRENCY * 4,
  });
  const gateway = group.start({ name: 'provgate', ...launch.command(config.path), core: plan.targetCore });
  await waitForPort(gateway, port);
  const pid = gateway.process.pid!;

  const stop = new AbortController();
  // Every slow download listens on it.
  setMaxListeners(options.downloads + 10, stop.signal);
  const now = () => Math.floor(Date.now() / 1000);
  const downloadToken = await signJwt(key, enterpriseClaims(0, now(), 7200));
  const read = { bytes: 0 };
  for (let i = 0; i < options.downloads; i++) slowDownload(port, downloadToken, stop.signal, read);

  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY });
  const statuses = new Map<number, number>();
  let sent = 0;
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const samples: { atSeconds: number; rssMb: number; sent: number }[] = [];
  const sampler = setInterval(() => {
    samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), rssMb: rssMb(pid), sent });
    const last = samples.at(-1)!;
    log(
      `${last.atSeconds} s: RSS ${last.rssMb.toFixed(1)} MB, ${sent} tokens, ${(read.bytes / 1e6).toFixed(1)} MB downloaded`,
    );
  }, SAMPLE_MS);

  let n = 1;
  async function worker(): Promise<void> {
    while (Date.now() < deadline && sent < options.tokens) {
      const token = await signJwt(key, enterpriseClaims(n++, now()));
      sent += 1;
      try {
        const res = await pool.request({
          path: MAIL_PATH,
          method: 'GET',
          headers: { authorization: `Bearer ${token}` },
        });
        await res.body.dump();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      } catch {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearInterval(sampler);
  samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), rssMb: rssMb(pid), sent });
  stop.abort();
  await pool.close();

  const afterWarmup = samples.filter((s) => s.atSeconds >= options.warmupSeconds);
  const base = afterWarmup[0]?.rssMb ?? Number.NaN;
  const peak = Math.max(...afterWarmup.map((s) => s.rssMb));
  const end = samples.at(-1)!.rssMb;
  const growth = (Math.max(peak, end) - base) / base;
  // A run whose requests were refused measured an idle gateway, not the target's load.
  const ok = statuses.get(200) ?? 0;
  const allOk = ok === sent && sent > 0;
  const met = Number.isFinite(growth) && allOk ? growth <= 0.1 : null;
  const report = {
    at: new Date().toISOString(),
    options,
    tokensSent: sent,
    statuses: Object.fromEntries(statuses),
    downloadedMb: read.bytes / 1e6,
    rssAfterWarmupMb: base,
    rssPeakMb: peak,
    rssEndMb: end,
    growth,
    target: 'RSS after warm-up to end (peak) within +10 %',
    met,
    samples,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'soak-memory.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    '# Memory soak (npm run soak:memory)',
    '',
    `${report.at}: ${options.seconds} s, ${sent} distinct ES256 tokens (each new), ${options.downloads} slow downloads held open.`,
    '',
    '| RSS after warm-up | peak after warm-up | end | growth | target (≤ +10 %) |',
    '|---|---|---|---|---|',
    `| ${base.toFixed(1)} MB | ${peak.toFixed(1)} MB | ${end.toFixed(1)} MB | ${(growth * 100).toFixed(1)} % | ${met === null ? (allOk ? 'not measured' : `not measured: ${sent - ok} of ${sent} requests were not 200`) : met ? 'met' : '**missed**'} |`,
    '',
    `Statuses: ${JSON.stringify(report.statuses)}; ${report.downloadedMb.toFixed(1)} MB read by the slow clients.`,
    '',
  ].join('\n');
  writeFileSync(join(RESULTS_DIR, 'soak-memory.md'), md);
  log(md);
  if (!allOk) process.exitCode = 1;
  rmSync(dir, { recursive: true, force: true });
}

const group = new ProcessGroup();
try {
  await main(group);
} finally {
  await group.stopAll();
  await sleep(100);
}
