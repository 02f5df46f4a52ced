// A gateway in a process of its own, started through the real CLI: what a test needs when it
// measures the gateway alone (its memory, say), with the clients and upstreams in the test process.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly adminUrl: string;
  /** Every line the process wrote to stdout (its JSON log). */
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Writes `config` into `dir` and runs `provgate start` on it; resolves once it listens. */
export async function startGatewayProcess(
  config: Record<string, unknown>,
  dir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProcess> {
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', path], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const started = await new Promise<{ proxyUrl: string; adminUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.includes('"gateway.started"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { proxyUrl: string; adminUrl: string });
    });
    void exit.then((code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
  return {
    child,
    pid: child.pid!,
    url: started.proxyUrl,
    adminUrl: started.adminUrl,
    output: () => stdout,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exit;
    },
  };
}

/** Resident memory of a process, now and at its peak since the last `resetPeak`, in bytes (Linux). */
export function residentMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Starts a new peak from the current resident size (`echo 5 > /proc/<pid>/clear_refs`). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
