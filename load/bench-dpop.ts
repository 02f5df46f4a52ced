// What a DPoP proof costs per request, beside a plain bearer token, through the whole gateway.
//
// A private redis-server (free port, temporary directory; never the machine's Redis), a real
// upstream, and two gateways in processes of their own on core 1: one with the memory store and
// one with the Redis store. autocannon (in this process, on core 0) sends, in alternating
// rounds, one bearer token repeated (verified-token cache hit: the cheapest request there is)
// and one DPoP-bound token with a fresh proof on every request (ES256, made before the round,
// each used once). What is measured: the gateway's own CPU per request (/proc utime + stime over
// the requests answered), throughput and latency at a fixed number of connections, and the Redis
// commands per request (INFO commandstats).
//
//   npm run bench:dpop                                      # 3 rounds of 5 s per scenario
//   BENCH_DPOP_SECONDS=2 BENCH_DPOP_ROUNDS=2 npm run bench:dpop
//
// Writes load/results/bench-dpop.{json,md} and prints the Markdown.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPair, type KeyObject, randomUUID, sign } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { stringify } from 'yaml';
import { generateDevKey, jwksOf, mintToken } from '../src/demo/dev-keys.js';
import { buildRequests, installFastRotation, useRotation } from './generator/fast-rotation.js';
import { pinnedCommand, pinSelf, planCpus } from './procs/cpu-pinning.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'load', 'results');
const ISS = 'https://login.example.test/enterprise/v2.0';
const AUDIENCE = 'https://mail.example.test';
const ORIGIN = 'https://mail.example.test';
const PATH = '/api/mail/v1.0/me/messages';
const SECONDS = Number(process.env.BENCH_DPOP_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_DPOP_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_DPOP_CONNECTIONS ?? 32);
// Proofs made per DPoP round: enough for this rate over the round, each used once.
const MAX_RPS = Number(process.env.BENCH_DPOP_MAX_RPS ?? 12_000);

type Autocannon = (options: Record<string, unknown>) => {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'done', listener: (result: { errors: number; timeouts: number }) => void): void;
};
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Measured {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
  readonly redisCommandsPerRequest: number;
  readonly statuses: Record<string, number>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** utime + stime of a process in µs, from /proc (Linux). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / 100) * 1e6;
}

async function setCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) if (m[1] !== 'info') total += Number(m[2]);
  return total;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One DPoP proof JWS for GET PATH, signed with node:crypto (ES256, r||s). */
function proofFactory(key: KeyObject, jwk: JWK, token: string): () => string {
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk })).toString('base64url');
  const ath = createHash('sha256').update(token).digest('base64url');
  return () => {
    const payload = Buffer.from(
      JSON.stringify({
        jti: randomUUID(),
        htm: 'GET',
        htu: `${ORIGIN}${PATH}`,
        iat: Math.floor(Date.now() / 1000),
        ath,
      }),
    ).toString('base64url');
    const input = `${header}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString(
      'base64url',
    );
    return `${input}.${signature}`;
  };
}

async function measure(
  url: URL,
  authorizations: string[],
  gateway: ChildProcess,
  redis: Redis,
): Promise<Measured> {
  useRotation(buildRequests(url, authorizations));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const cpuBefore = cpuMicros(gateway.pid!);
  const redisBefore = await setCalls(redis);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const instance = autocannon({
      url: url.origin,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [{ method: 'GET', path: PATH }],
    });
    instance.on('response', (_c, status, _b, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      latencies.push(ms);
    });
    instance.on('done', () => resolve());
  });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuMicros(gateway.pid!) - cpuBefore;
  // Everything Redis was asked meanwhile (INFO itself not counted): the gateway's periodic version checks too.
  const redisCommands = (await setCalls(redis)) - redisBefore;
  useRotation(undefined);
  latencies.sort((a, b) => a - b);
  const requests = latencies.length;
  return {
    requests,
    rps: requests / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuUsPerRequest: cpu / requests,
    redisCommandsPerRequest: Math.max(0, redisCommands) / requests,
    statuses,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const plan = planCpus();
  pinSelf(plan.driverCore);
  if (!installFastRotation())
    throw new Error('autocannon changed: the prebuilt rotation cannot be installed');
  const dir = mkdtempSync(join(tmpdir(), 'provgate-bench-dpop-'));
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', stopAll);
  try {
    const redisPort = await freePort();
    const redisServer = spawn(
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim(),
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    children.push(redisServer);
    // Connection refused until the server is up: ioredis retries, and the ping waits for it.
    const redis = new Redis({ port: redisPort, host: '127.0.0.1', retryStrategy: () => 50 });
    redis.on('error', () => {});
    await waitFor(async () => (await redis.ping()) === 'PONG', 'redis-server');

    const body = JSON.stringify({ value: [{ id: 'AAMk', subject: 'hello' }] });
    const upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    upstream.keepAliveTimeout = 60_000;
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

    const issuer = await generateDevKey('ES256', 'bench-es');
    writeFileSync(join(dir, 'enterprise.jwks.json'), JSON.stringify(jwksOf([issuer])));
    const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    const dpopJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK) };
    const publicJwk: JWK = { kty: 'EC', crv: dpopJwk.crv, x: dpopJwk.x, y: dpopJwk.y };
    const dpopKey = createPrivateKey({ key: dpopJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    const jkt = await calculateJwkThumbprint(publicJwk, 'sha256');
    const claims = { iss: ISS, sub: 'alice', aud: AUDIENCE, scp: 'Mail.Read' };
    const bearer = await mintToken(issuer.privateJwk, claims);
    const bound = await mintToken(issuer.privateJwk, { ...claims, cnf: { jkt } });
    const makeProof = proofFactory(dpopKey, publicJwk, bound);

    const gateways: Record<'memory' | 'redis', { url: URL; child: ChildProcess }> = {} as never;
    for (const kind of ['memory', 'redis'] as const) {
      const port = await freePort();
      const config = {
        listen: { host: '127.0.0.1', port, publicOrigin: ORIGIN },
        admin: { host: '127.0.0.1', port: await freePort(), token: 'bench-admin-token-0123456789' },
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
            upstream: upstreamUrl,
            audience: AUDIENCE,
            issuers: ['enterprise'],
            scopes: ['Mail.Read'],
          },
        ],
        store:
          kind === 'redis'
            ? { kind: 'redis', url: `redis://127.0.0.1:${redisPort}`, prefix: 'bench:' }
            : { kind: 'memory' },
        lifecycle: { maxEventLoopDelayMs: 0 },
        log: { level: 'warn' },
      };
      const path = join(dir, `${kind}.yaml`);
      writeFileSync(path, stringify(config));
      const launcher = join(ROOT, 'load', 'targets', 'provgate-target.ts');
      const cmd = pinnedCommand(plan.targetCore, process.execPath, [
        '--import',
        'tsx',
        launcher,
        '--impl',
        'src',
        '--config',
        path,
      ]);
      const child = spawn(cmd.command, cmd.args, { cwd: ROOT, stdio: ['pipe', 'ignore', 'inherit'] });
      children.push(child);
      const url = new URL(`http://127.0.0.1:${port}${PATH}`);
      await waitFor(
        async () => (await fetch(url, { headers: { authorization: `Bearer ${bearer}` } })).status === 200,
        `${kind} gateway`,
      );
      gateways[kind] = { url, child };
    }

    const scenarios = ['bearer-memory', 'dpop-memory', 'bearer-redis', 'dpop-redis'] as const;
    const runs: Record<string, Measured[]> = Object.fromEntries(scenarios.map((s) => [s, []]));
    const proofsPerRound = Math.ceil(MAX_RPS * (SECONDS + 1));
    // A warm-up of each, not counted: JIT, pools, the verified-token cache and the key import.
    for (const round of [-1, ...Array.from({ length: ROUNDS }, (_, i) => i)]) {
      for (const scenario of scenarios) {
        const [kind, store] = scenario.split('-') as ['bearer' | 'dpop', 'memory' | 'redis'];
        const { url, child } = gateways[store];
        const authorizations =
          kind === 'bearer'
            ? [`Bearer ${bearer}`]
            : // The proof rides as a second header line of the prebuilt request.
              Array.from(
                { length: round < 0 ? 20_000 : proofsPerRound },
                () => `DPoP ${bound}\r\ndpop: ${makeProof()}`,
              );
        const m = await measure(url, authorizations, child, redis);
        if (round >= 0) runs[scenario]!.push(m);
        const bad = Object.entries(m.statuses).filter(([s]) => s !== '200');
        if (bad.length > 0)
          process.stderr.write(`UNEXPECTED ${scenario} round ${round}: ${JSON.stringify(m.statuses)}\n`);
      }
    }

    const summary = scenarios.map((scenario) => {
      const rs = runs[scenario]!;
      return {
        scenario,
        rps: median(rs.map((r) => r.rps)),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
        redisCommandsPerRequest: median(rs.map((r) => r.redisCommandsPerRequest)),
        non200: rs.reduce(
          (n, r) =>
            n +
            Object.entries(r.statuses)
              .filter(([s]) => s !== '200')
              .reduce((a, [, c]) => a + c, 0),
          0,
        ),
      };
    });
    const by = Object.fromEntries(summary.map((s) => [s.scenario, s]));
    const extra = (store: 'memory' | 'redis') =>
      by[`dpop-${store}`]!.cpuUsPerRequest - by[`bearer-${store}`]!.cpuUsPerRequest;
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.versions.node}`;
    const md = [
      `# DPoP beside plain bearer (load/bench-dpop.ts)`,
      '',
      `${machine}; ${plan.note}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per scenario, alternating, medians; gateway from src/ through tsx.`,
      '',
      '| scenario | req/s | p50 ms | p99 ms | gateway CPU µs/request | Redis commands/request | non-200 |',
      '|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.scenario} | ${Math.round(s.rps)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${s.cpuUsPerRequest.toFixed(1)} | ${s.redisCommandsPerRequest.toFixed(3)} | ${s.non200} |`,
      ),
      '',
      `A DPoP request costs the gateway ${extra('memory').toFixed(1)} µs of CPU more than a cached bearer token with the memory store, ${extra('redis').toFixed(1)} µs with the Redis store (its one SET NX PX per request).`,
      '',
    ].join('\n');
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(
      join(RESULTS, 'bench-dpop.json'),
      `${JSON.stringify({ machine, plan: plan.note, connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, summary, runs }, null, 2)}\n`,
    );
    writeFileSync(join(RESULTS, 'bench-dpop.md'), md);
    process.stdout.write(md);
    redis.disconnect();
    upstream.closeAllConnections();
    upstream.close();
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:dpop failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
