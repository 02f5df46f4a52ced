import type { FamilyLink } from './family-link.js';
import type { MirroredRecord, Snapshot } from './mirrored-store.js';

// The version and every record in one atomic step: a snapshot is exactly at the version it
// names, so a change message is applied after it only when it is newer. Both keys carry the
// family's hash tag, so this runs on one Redis Cluster slot.
const SNAPSHOT = `return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2])}`;

/** A family whose records live in one hash (id -> JSON) beside one version counter. */
export async function readSnapshot<R extends MirroredRecord>(
  family: FamilyLink,
  keys: { readonly version: string; readonly records: string },
): Promise<Snapshot<R>> {
  const snapshot = family.script<[string, string[]]>('pgSnapshot', 2, SNAPSHOT);
  const [version, flat] = await family.run('write', () => snapshot(keys.version, keys.records));
  const records: R[] = [];
  for (let i = 1; i < flat.length; i += 2) records.push(JSON.parse(flat[i]!) as R);
  return { version: Number(version), records };
}
