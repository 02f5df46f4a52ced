import { CliError } from './cli-error.js';

interface ClosableStore {
  waitUntilReady(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * One piece of work on a Redis store the CLI opened for it: wait for the connection (bounded),
 * turn any store failure into a CLI error naming the store, and always close it.
 */
export async function withRedisStore<S extends ClosableStore, T>(
  name: string,
  store: S,
  work: (store: S) => Promise<T>,
): Promise<T> {
  try {
    await store.waitUntilReady(5000);
    return await work(store);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${name}: ${(err as Error).message}`);
  } finally {
    await store.close();
  }
}
