import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevKeyPair, generateDevKey } from '../../src/demo/dev-keys.js';

export interface KeyRing {
  readonly enterprise: DevKeyPair;
  readonly enterpriseEs: DevKeyPair;
  readonly consumer: DevKeyPair;
  readonly owa: DevKeyPair;
  /** Known to no issuer. */
  readonly stray: DevKeyPair;
}

const SPEC: Record<keyof KeyRing, readonly [alg: string, kid: string]> = {
  enterprise: ['RS256', 'ent-2024'],
  enterpriseEs: ['ES256', 'ent-es-1'],
  consumer: ['RS256', 'msa-2016'],
  owa: ['ES256', 'owa-1'],
  stray: ['RS256', 'stray-1'],
};

// Three RSA keys cost about a second of CPU, and every test file is a process of its own: the
// first process to need the ring keeps it in the temp dir (readable by this user only) and the
// others read it. Bump the version when SPEC changes.
const KEPT = join(tmpdir(), `provgate-test-key-ring-v1-${process.getuid?.() ?? 'user'}.json`);

let ring: Promise<KeyRing> | undefined;

/** One set of key pairs for every test process of this user (generating RSA keys is slow). */
export function keyRing(): Promise<KeyRing> {
  ring ??= (async () => kept() ?? keep(await generate()))();
  return ring;
}

async function generate(): Promise<KeyRing> {
  const names = Object.keys(SPEC) as (keyof KeyRing)[];
  const keys = await Promise.all(names.map((name) => generateDevKey(...SPEC[name])));
  return Object.fromEntries(names.map((name, i) => [name, keys[i]])) as unknown as KeyRing;
}

function kept(): KeyRing | undefined {
  try {
    if (statSync(KEPT).uid !== process.getuid?.()) return undefined;
    const read = JSON.parse(readFileSync(KEPT, 'utf8')) as Partial<Record<keyof KeyRing, DevKeyPair>>;
    for (const [name, [alg, kid]] of Object.entries(SPEC)) {
      const key = read[name as keyof KeyRing];
      if (key?.alg !== alg || key.kid !== kid || key.privateJwk?.d === undefined) return undefined;
    }
    return read as KeyRing;
  } catch {
    return undefined;
  }
}

function keep(fresh: KeyRing): KeyRing {
  // Written beside and renamed into place: a reader in another process sees all of it or nothing.
  const partial = `${KEPT}.${process.pid}`;
  try {
    writeFileSync(partial, JSON.stringify(fresh), { mode: 0o600 });
    renameSync(partial, KEPT);
  } catch {
    rmSync(partial, { force: true });
  }
  return fresh;
}
