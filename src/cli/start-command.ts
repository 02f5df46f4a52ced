import { startGateway } from '../server.js';

/** Runs until SIGTERM/SIGINT, then drains: readiness off, in-flight requests finish, exit 0. */
export async function startCommand(configPath: string, drainSeconds: number): Promise<void> {
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
}
