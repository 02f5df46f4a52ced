import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../config/config-error.js';
import { type LoadedConfig, loadConfigFile } from '../config/load-config.js';
import { withLoadProblems } from '../runtime/compile-config.js';
import { startGateway } from '../server.js';

/**
 * Runs until SIGTERM/SIGINT, then drains: readiness off, in-flight requests finish, exit 0.
 * SIGHUP reloads the config file (the outcome is logged). With `workers` > 1 the primary forks
 * that many gateways sharing the listening sockets (node:cluster); they share revocations and
 * blocks through the Redis store, and each reloads its own configuration.
 */
export async function startCommand(configPath: string, drainSeconds: number): Promise<void> {
  const { config } = await loadOrReportAll(configPath);
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  if (workers > 1 && cluster.isPrimary) {
    runPrimary(workers, drainSeconds);
    return;
  }
  const running = await startGateway(configPath);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ event: 'gateway.draining', signal }, 'draining');
    running
      .close(drainSeconds * 1000)
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        running.logger.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // The outcome, applied or refused with every problem, is logged by the reload itself.
  process.on('SIGHUP', () => {
    if (!stopping) void running.reload('SIGHUP');
  });
}

/**
 * The file's configuration; when its schema fails, the ConfigError (printed one line a problem by
 * cli.ts, exit 1) also names the problems of its key files, key sets and deny lists, so that one
 * start reports everything to fix. A file the schema accepts is fully compiled by startGateway,
 * which reports every problem of its own.
 */
async function loadOrReportAll(configPath: string): Promise<LoadedConfig> {
  try {
    return loadConfigFile(configPath);
  } catch (err) {
    throw err instanceof ConfigError ? await withLoadProblems(err) : err;
  }
}

function runPrimary(workers: number, drainSeconds: number): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(
      `provgate: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`,
    );
    setTimeout(fork, 1000).unref();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), (drainSeconds + 5) * 1000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Without a handler SIGHUP would end the primary; each worker reloads its own configuration.
  process.on('SIGHUP', () => {
    if (stopping) return;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });
}
