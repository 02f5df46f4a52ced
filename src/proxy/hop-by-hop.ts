/**
 * RFC 9110 §7.6.1: fields that describe one connection, not the message, and that a proxy
 * therefore never forwards in either direction. `Trailer` is end-to-end in the RFC, but this leg
 * forwards no trailers, so announcing them would be a lie.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * The other fields a `Connection` header names (RFC 9110 §7.6.1: "remove any header or trailer
 * field(s) from the message with the same name as the connection-option"), lower-cased; undefined
 * for the usual `keep-alive` or `close`, so that the common case allocates nothing.
 */
export function connectionOptions(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value.join(',');
  if (text.indexOf(',') === -1) {
    const only = text.trim().toLowerCase();
    if (only === '' || only === 'close' || HOP_BY_HOP.has(only)) return undefined;
    return new Set([only]);
  }
  let names: Set<string> | undefined;
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || HOP_BY_HOP.has(name)) continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}
