import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../procs/build-dist.js';
import type { CompiledTargets } from '../procs/compile-targets.js';
import type { CpuPlan } from '../procs/cpu-pinning.js';
import type { HaproxyLookup } from '../procs/find-haproxy.js';
import { freePort } from '../procs/free-port.js';
import type { ManagedChild, ProcessGroup } from '../procs/process-group.js';
import { waitForPort } from '../procs/wait-ready.js';
import { MAIL_PATH, MAIL_PREFIX, writeGatewayConfig } from '../setup/gateway-config.js';
import { writeHaproxyConfig, writeStaticUpstreamConfig } from '../setup/haproxy-config.js';
import type { SigningKey } from '../setup/signing-key.js';
import { MAIL_BODY } from '../targets/mail-body.js';
import type { ProvgateLaunch } from '../targets/provgate-launch.js';
import type { MetricsEndpoint } from './cache-counters.js';
import type { TargetName } from './scenarios.js';

const TARGETS_DIR = new URL('../targets/', import.meta.url).pathname;
// Pool of 10,000 rotated through 1,000 entries: a least-recently-used cache never hits.
export const COLD_CACHE_ENTRIES = 1000;

export interface TargetContext {
  readonly group: ProcessGroup;
  readonly plan: CpuPlan;
  readonly dir: string;
  readonly key: SigningKey;
  readonly pemPath: string;
  readonly launch: ProvgateLaunch;
  readonly haproxy: HaproxyLookup;
  readonly compiledTargets: CompiledTargets;
}

export interface RunningTarget {
  readonly url: string;
  /** The process that serves it, for its CPU time (haproxy-plain and haproxy-jwt share one). */
  readonly pid: number | undefined;
  /** provgate only: its admin /metrics, for the verified-token cache counters. */
  readonly metrics?: MetricsEndpoint;
}

export interface Backend {
  readonly url: string;
  readonly port: number;
}

function nodeTarget(
  ctx: TargetContext,
  file: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): { command: string; args: string[] } {
  const compiled = ctx.compiledTargets.dir;
  if (compiled !== undefined) {
    return {
      command: process.execPath,
      args: [...nodeFlags, join(compiled, file.replace(/\.ts$/, '.js')), ...args],
    };
  }
  return {
    command: process.execPath,
    args: [...nodeFlags, '--import', 'tsx', `${TARGETS_DIR}${file}`, ...args],
  };
}

/** How the lean proxy is started (with `nodeFlags`, e.g. --cpu-prof, for a profile of it). */
export function leanProxyCommand(
  ctx: TargetContext,
  backend: Backend,
  port: number,
  nodeFlags: readonly string[] = [],
): { command: string; args: string[] } {
  const args = ['--port', String(port), '--upstream', backend.url, '--prefix', MAIL_PREFIX];
  args.push('--dist', join(ROOT, 'dist'));
  return nodeTarget(ctx, 'lean-proxy.ts', args, nodeFlags);
}

async function startOne(
  ctx: TargetContext,
  name: string,
  cmd: { command: string; args: string[] },
  port: number,
  core: number | undefined,
): Promise<ManagedChild> {
  const child = ctx.group.start({ name, command: cmd.command, args: cmd.args, core });
  await waitForPort(child, port);
  return child;
}

/**
 * One upstream process answering the ~1 KB mail body: HAProxy's `http-request return` where
 * HAProxy exists (a few µs a request), else the Node server in targets/mail-upstream.ts.
 */
async function startUpstream(
  ctx: TargetContext,
  name: string,
  core: number | undefined,
): Promise<Backend & { child: ManagedChild }> {
  const port = await freePort();
  if (ctx.haproxy.found) {
    const bodyPath = join(ctx.dir, 'mail-body.json');
    writeFileSync(bodyPath, MAIL_BODY);
    const cfg = writeStaticUpstreamConfig(ctx.dir, name, port, bodyPath);
    const child = await startOne(
      ctx,
      name,
      { command: ctx.haproxy.path, args: ['-db', '-f', cfg] },
      port,
      core,
    );
    return { url: `http://127.0.0.1:${port}`, port, child };
  }
  const child = await startOne(
    ctx,
    name,
    nodeTarget(ctx, 'mail-upstream.ts', ['--port', String(port)]),
    port,
    core,
  );
  return { url: `http://127.0.0.1:${port}`, port, child };
}

export function upstreamKind(ctx: Pick<TargetContext, 'haproxy'>): string {
  return ctx.haproxy.found
    ? 'HAProxy http-request return of a static 1 KB JSON body'
    : 'Node http server (load/targets/mail-upstream.ts)';
}

/** The upstream the proxies forward to, on the generator's core: it is not what is measured. */
export async function startBackend(ctx: TargetContext): Promise<Backend> {
  const { url, port } = await startUpstream(ctx, 'backend-upstream', ctx.plan.driverCore);
  return { url, port };
}

const TRANSPORT = join(ROOT, 'dist', 'src', 'proxy', 'upstream-options.js');

/** Where the bare proxy takes the gateway's upstream transport settings from, if anywhere. */
export function bareProxyTransport(): { module: string; note: string } {
  return existsSync(TRANSPORT)
    ? { module: TRANSPORT, note: "with the gateway's transport options (dist/src/proxy/upstream-options.js)" }
    : { module: 'default', note: '@fastify/http-proxy defaults (no dist/src/proxy/upstream-options.js)' };
}

/** Starts each needed target as its own process on the targets' core; returns its request URL. */
export async function startTargets(
  ctx: TargetContext,
  backend: Backend,
  needed: ReadonlySet<TargetName>,
): Promise<Map<TargetName, RunningTarget>> {
  const urls = new Map<TargetName, RunningTarget>();
  const core = ctx.plan.targetCore;
  const at = (port: number, child: ManagedChild): RunningTarget => ({
    url: `http://127.0.0.1:${port}${MAIL_PATH}`,
    pid: child.process.pid,
  });
  if (needed.has('upstream')) {
    const port = await freePort();
    const child = await startOne(
      ctx,
      'upstream',
      nodeTarget(ctx, 'mail-upstream.ts', ['--port', String(port)]),
      port,
      core,
    );
    urls.set('upstream', at(port, child));
  }
  for (const name of ['bare-proxy', 'bare-reply-from', 'lean-proxy'] as const) {
    if (!needed.has(name)) continue;
    const port = await freePort();
    const args = ['--port', String(port), '--upstream', backend.url, '--prefix', MAIL_PREFIX];
    args.push('--transport', bareProxyTransport().module);
    const cmd =
      name === 'lean-proxy' ? leanProxyCommand(ctx, backend, port) : nodeTarget(ctx, `${name}.ts`, args);
    const child = await startOne(ctx, name, cmd, port, core);
    urls.set(name, at(port, child));
  }
  for (const name of ['provgate', 'provgate-cold', 'provgate-nocache'] as const) {
    if (!needed.has(name)) continue;
    const port = await freePort();
    const adminPort = await freePort();
    const config = writeGatewayConfig({
      dir: ctx.dir,
      name,
      port,
      adminPort,
      upstream: backend.url,
      key: ctx.key,
      ...(name === 'provgate-cold' ? { cacheEntries: COLD_CACHE_ENTRIES } : {}),
      ...(name === 'provgate-nocache' ? { cacheOff: true } : {}),
    });
    const child = await startOne(ctx, name, ctx.launch.command(config.path), port, core);
    const metrics = { url: `http://127.0.0.1:${adminPort}/metrics`, token: config.adminToken };
    urls.set(name, { ...at(port, child), metrics });
  }
  if ((needed.has('haproxy-plain') || needed.has('haproxy-jwt')) && ctx.haproxy.found) {
    const plainPort = await freePort();
    const jwtPort = await freePort();
    const cfg = writeHaproxyConfig({
      dir: ctx.dir,
      plainPort,
      jwtPort,
      upstreamPort: backend.port,
      publicPemPath: ctx.pemPath,
    });
    const check = spawnSync(ctx.haproxy.path, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy refused its config:\n${check.stdout}${check.stderr}`);
    const child = await startOne(
      ctx,
      'haproxy',
      { command: ctx.haproxy.path, args: ['-db', '-f', cfg] },
      plainPort,
      core,
    );
    await waitForPort(child, jwtPort);
    urls.set('haproxy-plain', at(plainPort, child));
    urls.set('haproxy-jwt', at(jwtPort, child));
  }
  return urls;
}
