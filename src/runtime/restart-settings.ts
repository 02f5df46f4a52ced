import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';

interface RestartSetting {
  readonly path: readonly string[];
  /** Never print its value: it may hold a password (a Redis URL). */
  readonly secret?: boolean;
}

// What a running process cannot take over from a new file: sockets already bound, worker
// processes already forked, the store connections everything else hangs on, and what was built
// into the listeners and the logger when they were made.
const RESTART_ONLY: readonly RestartSetting[] = [
  { path: ['listen'] },
  { path: ['workers'] },
  { path: ['admin', 'host'] },
  { path: ['admin', 'port'] },
  { path: ['store'], secret: true },
  // Sizes Node's request header limit on the proxy listener.
  { path: ['verification', 'maxTokenBytes'] },
  { path: ['log'] },
  { path: ['events'] },
  { path: ['lifecycle', 'maxEventLoopDelayMs'] },
  { path: ['lifecycle', 'overloadRetryAfterSeconds'] },
  // The receiver's transmitters, key sets, pollers and push route are built once, at start.
  { path: ['signals'], secret: true },
  // The proof checks, their replay store and the nonce keys are built once with the listener.
  { path: ['dpop'], secret: true },
];

export interface KeptSettings {
  /** The new configuration with every restart-only setting as it is running. */
  readonly config: Config;
  /** One line per restart-only setting the file changed: it takes effect at the next restart. */
  readonly kept: readonly string[];
}

export function keepRestartSettings(running: Config, next: Config): KeptSettings {
  const config = structuredClone(next);
  const kept: string[] = [];
  for (const { path, secret } of RESTART_ONLY) {
    const was = valueAt(running, path);
    const now = valueAt(next, path);
    if (isDeepStrictEqual(was, now)) continue;
    setAt(config, path, structuredClone(was));
    const values = secret ? '' : ` (running ${JSON.stringify(was)}, file ${JSON.stringify(now)})`;
    kept.push(`${path.join('.')}: changes only with a restart; the running value is kept${values}`);
  }
  return { config, kept };
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

function setAt(root: unknown, path: readonly string[], value: unknown): void {
  const parent = valueAt(root, path.slice(0, -1)) as Record<string, unknown>;
  parent[path.at(-1)!] = value;
}
