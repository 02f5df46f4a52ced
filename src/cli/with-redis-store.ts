import type { StoreConfig } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import { RedisLink } from '../store/redis-link.js';
import { CliError } from './cli-error.js';

/**
 * One piece of work on a Redis store the CLI opened for it: one connection (no subscriber: the
 * CLI follows no changes), a bounded wait for it, any store failure turned into a CLI error
 * naming the store, and the connection always closed.
 */
export async function withRedisStore<S, T>(
  name: string,
  config: StoreConfig,
  open: (link: RedisLink) => S,
  work: (store: S) => Promise<T>,
): Promise<T> {
  const link = new RedisLink(config, createLogger('silent'));
  try {
    await link.waitUntilReady(5000);
    return await work(open(link));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${name}: ${(err as Error).message}`);
  } finally {
    link.close();
  }
}
