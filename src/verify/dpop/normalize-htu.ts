// RFC 9449 §4.3 compares `htu` with the request's URI after the syntax- and scheme-based
// normalisation of RFC 3986 §6.2.2 and §6.2.3. Node's URL parser (20.20) does most of it: it
// lower-cases scheme and host, drops a default port and an empty `:`, removes dot segments and
// turns an empty path into `/`. It does not decode percent-encoded unreserved characters (`%7E`
// stays, `~` is its normal form), does not upper-case the hex of the others, and keeps
// `user:pw@`: those three are done here. Query and fragment are not part of `htu` and are cut
// from both sides, since clients put the query in anyway.

const MAX_HTU_LENGTH = 4096;
const HEX = /^[0-9A-Fa-f]{2}$/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

/** `%7e` → `~`, `%2f` → `%2F`; undefined for a `%` not followed by two hex digits. */
function normalizePercent(path: string): string | undefined {
  if (path.indexOf('%') === -1) return path;
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    const code = Number.parseInt(hex, 16);
    out += path.slice(from, i) + (isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`);
    from = i + 3;
    i += 2;
  }
  return out + path.slice(from);
}

/**
 * The normal form of an http(s) URI for comparing `htu`: `scheme://host[:port]/path`, or
 * undefined when it is no such URI (unparseable, another scheme, a broken `%` escape, too long).
 */
export function normalizeHtu(value: string): string | undefined {
  if (value.length > MAX_HTU_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = normalizePercent(url.pathname);
  if (path === undefined) return undefined;
  return `${url.protocol}//${url.host}${path}`;
}

/** The `htu` a proof for this request must carry: the public origin and the path as received. */
export function requestHtu(origin: string, url: string): string | undefined {
  let end = url.length;
  const q = url.indexOf('?');
  if (q !== -1) end = q;
  const h = url.indexOf('#');
  if (h !== -1 && h < end) end = h;
  return normalizeHtu(origin + (end === url.length ? url : url.slice(0, end)));
}
