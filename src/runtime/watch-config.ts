import { watchFile } from '../config/watch-file.js';

// An editor or a deploy tool writes a file in steps (truncate, write, rename): wait until it has
// been quiet this long, so that one save is one reload of the finished file.
const DEBOUNCE_MS = 200;
// A stat() now and then, for file systems that miss change notifications (as for deny lists).
const POLL_MS = 5000;

/** Calls `onChange` after the config file changed and settled; returns a function that stops watching. */
export function watchConfigFile(path: string, onChange: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const stop = watchFile(path, POLL_MS, () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, DEBOUNCE_MS);
  });
  return () => {
    stop();
    if (timer !== undefined) clearTimeout(timer);
  };
}
