/**
 * A target started by the load runner keeps stdin open to its parent; when the parent dies
 * without cleaning up (SIGKILL), stdin closes and the target exits instead of lingering.
 */
export function exitWithParent(shutdown: () => Promise<void> | void): void {
  const stop = async () => {
    try {
      await shutdown();
    } finally {
      process.exit(0);
    }
  };
  process.stdin.on('end', () => void stop());
  process.stdin.on('error', () => void stop());
  process.stdin.resume();
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/** `--name value` from argv, or fail loudly: these scripts are only ever started by run-all. */
export function argValue(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? undefined : process.argv[i + 1];
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}
