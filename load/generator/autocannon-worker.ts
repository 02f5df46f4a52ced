// The load generator, in a process of its own (pinned apart from the targets): reads one JSON
// job per stdin line, answers one JSON outcome per stdout line, exits when stdin closes.
// Latencies come from autocannon's per-response event (its own histogram keeps whole ms).
// Fixed-rate jobs (overallRate) run paced, open loop, outside autocannon: see paced-run.ts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { buildRequests, installFastRotation, useRotation } from './fast-rotation.js';
import type { LoadJob, LoadOutcome } from './job.js';
import { LatencyRecorder } from './latency-recorder.js';
import { pacedRun } from './paced-run.js';

interface RequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  setupRequest?: (req: RequestSpec) => RequestSpec;
}
interface Instance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'done', listener: (result: { errors: number; timeouts: number }) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
type Autocannon = (options: Record<string, unknown>) => Instance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const fast = installFastRotation();
const pools = new Map<string, readonly string[]>();
const built = new Map<string, readonly Buffer[]>();
// The fallback and paced rotations' position per pool, carried from one job to the next.
const slowPositions = new Map<string, number>();

function pool(file: string): readonly string[] {
  let values = pools.get(file);
  if (values === undefined) {
    values = JSON.parse(readFileSync(file, 'utf8')) as string[];
    pools.set(file, values);
  }
  return values;
}

function prebuilt(file: string, url: URL): readonly Buffer[] {
  const key = `${file} ${url.href}`;
  let buffers = built.get(key);
  if (buffers === undefined) {
    buffers = buildRequests(url, pool(file));
    built.set(key, buffers);
  }
  return buffers;
}

/** The request autocannon sends: prebuilt buffers in rotation, or its own slower setupRequest. */
function requestFor(job: LoadJob, url: URL): RequestSpec {
  const path = url.pathname + url.search;
  useRotation(undefined);
  if (job.poolFile === undefined) return { method: 'GET', path, headers: {} };
  if (fast) {
    useRotation(prebuilt(job.poolFile, url));
    return { method: 'GET', path, headers: {} };
  }
  const file = job.poolFile;
  const headers = pool(file);
  return {
    method: 'GET',
    path,
    headers: {},
    setupRequest: (req) => {
      const next = slowPositions.get(file) ?? 0;
      slowPositions.set(file, (next + 1) % headers.length);
      req.headers = { authorization: headers[next]! };
      return req;
    },
  };
}

async function runPaced(job: LoadJob): Promise<LoadOutcome> {
  const authorizations = job.poolFile === undefined ? [] : pool(job.poolFile);
  const cpuBefore = process.cpuUsage();
  const result = await pacedRun(job, authorizations, slowPositions.get(job.poolFile ?? '') ?? 0);
  if (job.poolFile !== undefined)
    slowPositions.set(job.poolFile, result.next % Math.max(1, authorizations.length));
  const cpu = process.cpuUsage(cpuBefore);
  const [p50Ms, p99Ms] = result.latencies.percentiles(50, 99);
  return {
    id: job.id,
    requests: result.requests,
    elapsedSeconds: result.elapsedSeconds,
    rps: result.requests / result.elapsedSeconds,
    p50Ms: p50Ms!,
    p99Ms: p99Ms!,
    statusCounts: result.statusCounts,
    errors: result.errors,
    timeouts: 0,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / result.elapsedSeconds,
    fastRotation: false,
  };
}

function run(job: LoadJob): Promise<LoadOutcome> {
  if (job.overallRate !== undefined) return runPaced(job);
  const url = new URL(job.url);
  const request = requestFor(job, url);
  const latencies = new LatencyRecorder();
  const statusCounts: Record<string, number> = {};
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const instance = autocannon({
      url: url.origin,
      connections: job.connections,
      duration: job.durationSeconds,
      requests: [request],
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      latencies.record(ms);
    });
    instance.on('error', (err) => resolve(failed(job, err)));
    instance.on('done', (result) => {
      const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      const requests = Object.values(statusCounts).reduce((a, b) => a + b, 0);
      const [p50Ms, p99Ms] = latencies.percentiles(50, 99);
      useRotation(undefined);
      resolve({
        id: job.id,
        requests,
        elapsedSeconds,
        rps: requests / elapsedSeconds,
        p50Ms: p50Ms!,
        p99Ms: p99Ms!,
        statusCounts,
        errors: result.errors,
        timeouts: result.timeouts,
        generatorCpu: (cpu.user + cpu.system) / 1e6 / elapsedSeconds,
        fastRotation: fast,
      });
    });
  });
}

function failed(job: LoadJob, err: Error): LoadOutcome {
  return {
    id: job.id,
    requests: 0,
    elapsedSeconds: 0,
    rps: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    statusCounts: {},
    errors: 1,
    timeouts: 0,
    generatorCpu: 0,
    fastRotation: fast,
    error: err.message,
  };
}

// Jobs run one at a time, in the order received: two generators at once would share a core.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const job = JSON.parse(line) as LoadJob;
  queue = queue.then(async () => {
    const outcome = await run(job).catch((err: Error) => failed(job, err));
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  });
});
