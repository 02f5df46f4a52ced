/**
 * One change to a mirrored family, as every store announces it. `version` is the store's version
 * counter right after this change: a listener that has seen every version in order knows its
 * mirror equals the store without asking, and a gap tells it that a message was lost.
 */
export type Change<R> = ({ op: 'add'; record: R } | { op: 'remove'; id: string }) & {
  version?: number | undefined;
};

/** A change as a store-first write resolves with it: what was stored, at the version it made. */
export type StoredChange<R> = Change<R> & { readonly version: number };

/**
 * Reads `<version> <change JSON>`, as the Lua scripts publish it (the version comes from the INCR
 * of the same script as the write, so it is exact). A bare JSON change is accepted too and leaves
 * the listener to check the version itself. Anything else is undefined: the caller logs it.
 */
export function decodeChange<R>(message: string): Change<R> | undefined {
  const space = message.startsWith('{') ? -1 : message.indexOf(' ');
  const version = space === -1 ? undefined : Number(message.slice(0, space));
  if (version !== undefined && !Number.isSafeInteger(version)) return undefined;
  let change: Change<R>;
  try {
    change = JSON.parse(message.slice(space + 1)) as Change<R>;
  } catch {
    return undefined;
  }
  if (typeof change !== 'object' || change === null) return undefined;
  if (change.op !== 'add' && change.op !== 'remove') return undefined;
  return version === undefined ? change : { ...change, version };
}
