// The layers of src/, bottom first: a file may import from its own layer and the ones below it,
// never from one above. ARCHITECTURE.md and the README's source tree describe the same order.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LAYERS = [
  'config',
  'keys',
  'store',
  'trust',
  'revocation',
  'lineage',
  'verify',
  'observability',
  'signals',
  'protection',
  'proxy',
  'runtime',
  'http',
  'admin',
  'server',
  'demo',
  'cli',
] as const;

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** A file's layer: its top folder under src/, or for a top-level file its name (server.ts, cli.ts). */
function layerOf(file: string): string {
  const [top, ...rest] = relative(SRC, file).split('/');
  return rest.length === 0 ? top!.replace(/\.ts$/, '') : top!;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g;

test('every import in src/ points to its own layer or one below', () => {
  const upward: string[] = [];
  const unknown = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (!LAYERS.includes(from as (typeof LAYERS)[number])) unknown.add(from);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      const a = LAYERS.indexOf(from as (typeof LAYERS)[number]);
      const b = LAYERS.indexOf(to as (typeof LAYERS)[number]);
      if (b > a) upward.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${from} → ${to})`);
    }
  }
  assert.deepEqual([...unknown], [], 'every folder of src/ has a place in LAYERS');
  assert.deepEqual(upward, [], 'no upward imports');
});

test('the layering check sees imports at all (it would pass vacuously otherwise)', () => {
  const hook = readFileSync(join(SRC, 'http', 'auth-hook.ts'), 'utf8');
  assert.ok([...hook.matchAll(IMPORT)].length > 3);
});
