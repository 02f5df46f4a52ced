import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './poll.js';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL when `hard`), keeping its data directory. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  restart(): Promise<void>;
  /** SIGSTOP: the server hangs with its connections open, as a stalled Redis does. */
  pause(): void;
  /** SIGCONT after pause() (stop() and close() resume it too). */
  resume(): void;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function redisBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'redis-server not found: install it with `apt-get install -y redis-server` (the tests start their own on a free port)',
    );
  }
}

/**
 * A private redis-server for one test file: free loopback port, temporary directory, AOF on so
 * that a restart keeps what was written. Never the machine's Redis at 6379.
 */
export async function startRedis(): Promise<TestRedis> {
  const binary = redisBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'provgate-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: 'ignore' },
    );
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    const answers = async () => {
      try {
        await probe.connect();
        await probe.ping();
        return true;
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    };
    await waitFor(answers, { timeoutMs: 5000, intervalMs: 20, message: `redis-server on port ${port}` });
  };

  const resume = () => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGCONT');
  };

  const stop = async (hard = false) => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null) return;
    resume(); // a stopped process would hold a SIGTERM until continued
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
    child = undefined;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    pause: () => {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGSTOP');
    },
    resume,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
