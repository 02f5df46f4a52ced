// How long a revocation made through one gateway instance takes to be enforced by another.
//
// A private redis-server (free port, temporary directory; never the machine's Redis), two
// gateway instances in separate processes sharing it, and a real upstream. For each of N
// tokens: B has just accepted the token (it sits in B's verified-token cache); the token is
// revoked by jti through A's admin API; B is polled with the token until it answers 401
// token_revoked. The delay is measured from the moment the POST is sent (and, separately,
// from A's 201). B's periodic resync is set to an hour, so what is measured is pub/sub.
//
//   npm run bench:revocation                  # 1000 revocations
//   BENCH_REVOCATIONS=200 npm run bench:revocation
//   BENCH_PRELOAD=10000 npm run bench:revocation   # with 10,000 live revocations stored first
//
// Writes load/results/revocation-propagation.json. Target (issue 3): p99 <= 100 ms.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { type DevKeyPair, generateDevKey, jwksOf, mintToken } from '../src/demo/dev-keys.js';
import { createLogger } from '../src/observability/logger.js';
import { redisKeys } from '../src/revocation/redis-store.js';
import { makeRecord } from '../src/revocation/revocation-record.js';
import { startGateway } from '../src/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'load', 'results', 'revocation-propagation.json');
const ISS = 'https://login.example.test/enterprise/v2.0';
const AUDIENCE = 'https://mail.example.test';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const TARGET_P99_MS = 100;
const STORE_PREFIX = 'bench:';
// Redis' recommended AOF setting for production: durable to the second, no fsync per write.
const REDIS_APPENDFSYNC = 'everysec';

const N = positiveInt('BENCH_REVOCATIONS', 1000);
const WARMUP = positiveInt('BENCH_WARMUP', Math.min(50, N));
// Live revocations already in the store when the run starts (an incident in its second week).
const PRELOAD = nonNegativeInt('BENCH_PRELOAD', 0);
const POLL_TIMEOUT_MS = 5000;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

function nonNegativeInt(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw === undefined || raw === '' || raw === '0' ? fallback : positiveInt(name, fallback);
}

// ---- child role: one gateway instance, until its parent closes stdin ----------------------

async function serve(configPath: string): Promise<void> {
  const running = await startGateway(configPath, { logger: createLogger('error') });
  process.stdout.write(`READY ${running.proxyUrl} ${running.adminUrl}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    void running.close(1000).finally(() => process.exit(0));
  });
}

// ---- parent role --------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(dir: string): Promise<{ url: string; version: string; stop(): Promise<void> }> {
  let binary: string;
  try {
    binary = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server not found: install it with `apt-get install -y redis-server`');
  }
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  const port = await freePort();
  const child = track(
    spawn(
      binary,
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
        ...['--appendonly', 'yes', '--appendfsync', REDIS_APPENDFSYNC, '--daemonize', 'no'],
      ],
      { stdio: 'ignore' },
    ),
  );
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await sleep(25);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    version,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"messages":[]}');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `count` token revocations straight into the store, as earlier operators left them. */
async function preload(redisUrl: string, count: number): Promise<void> {
  if (count === 0) return;
  const keys = redisKeys(STORE_PREFIX);
  const client = new Redis(redisUrl);
  try {
    const now = Date.now();
    for (let start = 0; start < count; start += 1000) {
      const batch = client.pipeline();
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        const spec = {
          kind: 'token' as const,
          issuer: 'enterprise',
          jti: `preloaded-${i}`,
          exp: 4_102_444_800,
        };
        const record = makeRecord(spec, { by: 'bench-preload', source: 'api', now, clockSkewSeconds: 60 });
        batch.hset(keys.records, record.id, JSON.stringify(record));
      }
      await batch.exec();
    }
    await client.incr(keys.version);
  } finally {
    client.disconnect();
  }
}

interface Instance {
  readonly name: string;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  stop(): Promise<void>;
}

async function startInstance(name: string, configPath: string): Promise<Instance> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', configPath], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4096);
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<[string, string]>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^READY (\S+) (\S+)$/.exec(line);
      if (match) resolve([match[1]!, match[2]!]);
    });
    child.once('exit', (code) =>
      reject(new Error(`gateway ${name} exited (${code}) before ready:\n${stderr}`)),
    );
  });
  const [proxyUrl, adminUrl] = await ready;
  return {
    name,
    proxyUrl,
    adminUrl,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function writeConfig(dir: string, key: DevKeyPair, upstream: string, redisUrl: string): string {
  writeFileSync(join(dir, 'enterprise.jwks.json'), JSON.stringify(jwksOf([key])));
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    issuers: {
      enterprise: {
        issuer: ISS,
        role: 'identity-provider',
        keys: { file: 'enterprise.jwks.json' },
        algorithms: ['ES256'],
      },
    },
    routes: [
      {
        name: 'mail',
        prefix: '/api/mail',
        upstream,
        audience: AUDIENCE,
        issuers: ['enterprise'],
        scopes: ['Mail.Read'],
      },
    ],
    // An hour between version checks: within a run, only pub/sub can carry a revocation to B.
    store: { kind: 'redis', url: redisUrl, prefix: STORE_PREFIX, resyncSeconds: 3600 },
    log: { level: 'error' },
  };
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

async function status(url: string, token: string): Promise<{ status: number; reason: unknown }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status === 200) return { status: 200, reason: undefined };
  return { status: res.status, reason: (JSON.parse(text) as { reason?: unknown }).reason };
}

interface Sample {
  readonly sinceRequestMs: number;
  readonly sinceAckMs: number;
  readonly polls: number;
}

async function measureOne(a: Instance, b: Instance, token: string, jti: string): Promise<Sample> {
  const url = `${b.proxyUrl}/api/mail/messages`;
  const before = await status(url, token);
  if (before.status !== 200) throw new Error(`B refused ${jti} before its revocation: ${before.status}`);
  const sent = performance.now();
  const res = await fetch(`${a.adminUrl}/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'token', issuer: 'enterprise', jti, reason: 'benchmark' }),
  });
  const acked = performance.now();
  if (res.status !== 201) throw new Error(`A answered ${res.status} to revoking ${jti}: ${await res.text()}`);
  await res.body?.cancel();
  let polls = 0;
  for (;;) {
    polls += 1;
    const now = await status(url, token);
    if (now.status === 401 && now.reason === 'token_revoked') break;
    if (now.status !== 200) throw new Error(`B answered ${now.status} ${String(now.reason)} for ${jti}`);
    if (performance.now() - sent > POLL_TIMEOUT_MS) throw new Error(`B still accepts ${jti} after 5 s`);
  }
  const refused = performance.now();
  return { sinceRequestMs: refused - sent, sinceAckMs: refused - acked, polls };
}

function summarize(values: readonly number[]) {
  const sorted = [...values].sort((x, y) => x - y);
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    p50: round(at(50)),
    p95: round(at(95)),
    p99: round(at(99)),
    max: round(sorted.at(-1)!),
    mean: round(sorted.reduce((sum, v) => sum + v, 0) / sorted.length),
  };
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'provgate-bench-revocation-'));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const redis = await startRedis(dir);
    cleanups.push(redis.stop);
    const upstream = await startUpstream();
    cleanups.push(upstream.close);
    const key = await generateDevKey('ES256', 'bench-es-1');
    const configPath = writeConfig(dir, key, upstream.url, redis.url);
    await preload(redis.url, PRELOAD);
    const [a, b] = await Promise.all([startInstance('A', configPath), startInstance('B', configPath)]);
    cleanups.push(a.stop, b.stop);

    const now = Math.floor(Date.now() / 1000);
    const total = WARMUP + N;
    process.stdout.write(`minting ${total} tokens...\n`);
    const tokens: { jti: string; token: string }[] = [];
    for (let i = 0; i < total; i++) {
      const jti = `bench-${i}`;
      const claims = { iss: ISS, sub: `user-${i}`, aud: AUDIENCE, scp: 'Mail.Read', jti };
      tokens.push({ jti, token: await mintToken(key.privateJwk, claims, { now, ttlSeconds: 3600 }) });
    }

    process.stdout.write(`warm-up: ${WARMUP} revocations (not recorded); measuring ${N}...\n`);
    const samples: Sample[] = [];
    for (const [i, { jti, token }] of tokens.entries()) {
      const sample = await measureOne(a, b, token, jti);
      if (i >= WARMUP) samples.push(sample);
    }

    const sinceRequest = summarize(samples.map((s) => s.sinceRequestMs));
    const sinceAck = summarize(samples.map((s) => s.sinceAckMs));
    const polls = summarize(samples.map((s) => s.polls));
    const result = {
      benchmark: 'revocation-propagation',
      at: new Date().toISOString(),
      revocations: N,
      warmup: WARMUP,
      preloaded: PRELOAD,
      setup: {
        instances: 'two gateway processes (startGateway), one redis-server, one upstream; all on loopback',
        store: { kind: 'redis', resyncSeconds: 3600, propagation: 'pub/sub' },
        redis: { version: redis.version, appendonly: true, appendfsync: REDIS_APPENDFSYNC },
        revocation: 'token by jti, POST /revocations on A; B polled with the token until 401 token_revoked',
        node: process.version,
        cpus: { count: availableParallelism(), model: cpus()[0]?.model ?? 'unknown' },
        pinned: false,
        // Other work on the machine skews the tail: the 1-minute load average at start and end.
        loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
      },
      unit: 'ms',
      sinceRequest,
      sinceAck,
      pollsPerRevocation: polls,
      target: { p99Ms: TARGET_P99_MS, met: sinceRequest.p99 <= TARGET_P99_MS },
      samplesMs: samples.map((s) => Math.round(s.sinceRequestMs * 100) / 100),
    };
    mkdirSync(join(ROOT, 'load', 'results'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);

    const row = (name: string, s: ReturnType<typeof summarize>) =>
      `${name.padEnd(26)}${[s.p50, s.p95, s.p99, s.max, s.mean].map((v) => v.toFixed(2).padStart(9)).join('')}`;
    process.stdout.write(
      [
        '',
        `revocation propagation A -> B, ${N} token revocations, ${PRELOAD} stored before (ms)`,
        `${''.padEnd(26)}${['p50', 'p95', 'p99', 'max', 'mean'].map((h) => h.padStart(9)).join('')}`,
        row('from POST sent', sinceRequest),
        row("from A's 201", sinceAck),
        `target p99 <= ${TARGET_P99_MS} ms: ${result.target.met ? 'met' : 'NOT met'}` +
          `  (load average ${loadAtStart.toFixed(1)} -> ${result.setup.loadAverage.end.toFixed(1)} on ${availableParallelism()} cpus)`,
        `written to ${RESULTS}`,
        '',
      ].join('\n'),
    );
    if (!result.target.met) process.exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt !== -1) {
  const configPath = process.argv[serveAt + 1];
  if (configPath === undefined) throw new Error('--serve needs a config path');
  await serve(configPath);
} else {
  await main();
}
