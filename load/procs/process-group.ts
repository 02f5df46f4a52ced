import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { pinnedCommand } from './cpu-pinning.js';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly core: number | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Default: stdin piped (our targets exit when it closes), stdout ignored, stderr kept. */
  readonly stdio?: StdioOptions;
}

export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** The last few kilobytes of stderr, for an error message when the child dies early. */
  stderrTail(): string;
  /** Resolves when the child has exited (any cause). */
  readonly exited: Promise<number | null>;
}

const TAIL_BYTES = 4096;

/**
 * Every process a load run starts, so that all of them stop with it: on success, on an
 * error, on SIGINT/SIGTERM, and (by SIGKILL) on a plain process exit.
 */
export class ProcessGroup {
  private readonly children = new Set<ManagedChild>();
  private readonly onExit = () => this.killAllNow();

  constructor() {
    process.on('exit', this.onExit);
  }

  start(spec: ChildSpec): ManagedChild {
    const { command, args } = pinnedCommand(spec.core, spec.command, spec.args);
    const child = spawn(command, args, {
      env: spec.env ?? process.env,
      stdio: spec.stdio ?? ['pipe', 'ignore', 'pipe'],
    });
    let tail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (err) => {
        tail += `\nspawn failed: ${err.message}`;
        resolve(null);
      });
    });
    const managed: ManagedChild = { name: spec.name, process: child, stderrTail: () => tail, exited };
    this.children.add(managed);
    void exited.then(() => this.children.delete(managed));
    return managed;
  }

  /** SIGTERM, then SIGKILL for whatever is still running after `graceMs`. */
  async stop(child: ManagedChild, graceMs = 3000): Promise<void> {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return;
    child.process.stdin?.end();
    child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c, graceMs)));
  }

  private killAllNow(): void {
    for (const child of this.children) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    }
  }
}

/** Waits for `child` to exit, or rejects after `ms` (the child keeps running). */
export async function exitWithin(child: ManagedChild, ms: number): Promise<number | null> {
  const timeout = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`${child.name} did not exit within ${ms} ms`)), ms).unref();
  });
  return Promise.race([child.exited, timeout]);
}
