import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type HaproxyLookup =
  | { readonly found: true; readonly path: string; readonly version: string; readonly note: string }
  | { readonly found: false; readonly note: string };

function located(): string | undefined {
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  const which = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path !== '' ? path : undefined;
}

function versionOf(path: string): string {
  const out = spawnSync(path, ['-v'], { encoding: 'utf8' }).stdout ?? '';
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

/** Finds haproxy, or installs Debian's package when running as root; says plainly when neither works. */
export function findHaproxy(): HaproxyLookup {
  let path = located();
  let note = 'found on PATH';
  if (path === undefined) {
    if (process.getuid?.() !== 0)
      return { found: false, note: 'haproxy not installed and not root: cannot apt-get install it' };
    console.log('haproxy not found: trying apt-get install -y haproxy');
    const install = spawnSync('apt-get', ['install', '-y', 'haproxy'], { encoding: 'utf8' });
    path = located();
    if (path === undefined) {
      return {
        found: false,
        note: `apt-get install -y haproxy failed: ${(install.stderr ?? '').trim().split('\n').at(-1) ?? ''}`,
      };
    }
    note = 'installed with apt-get';
  }
  const version = versionOf(path);
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 2 || (major === 2 && minor < 5)) {
    return { found: false, note: `haproxy ${version} at ${path} has no jwt_verify (needs 2.5+)` };
  }
  return { found: true, path, version, note };
}
