import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

// Editors and `mv` replace a file rather than write into it, and a watch on the file itself
// stops at the old inode; so the folder is watched. Change notifications can also be missed
// (network file systems, some containers), so a periodic stat() backs the watch up.
const SETTLE_MS = 30;

function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** Calls `onChange` after `path` changes (settled for a moment); returns a function that stops watching. */
export function watchFile(path: string, pollMs: number, onChange: () => void): () => void {
  let last = signature(path);
  let settle: NodeJS.Timeout | undefined;
  const check = () => {
    settle = undefined;
    const now = signature(path);
    if (now === last) return;
    last = now;
    onChange();
  };
  const soon = () => {
    if (settle === undefined) settle = setTimeout(check, SETTLE_MS);
  };
  const name = basename(path);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) soon();
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined; // the poll below still notices changes
  }
  const poll = setInterval(check, pollMs);
  poll.unref();
  return () => {
    watcher?.close();
    clearInterval(poll);
    if (settle !== undefined) clearTimeout(settle);
  };
}
