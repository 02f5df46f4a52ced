/** Longest text an event field keeps, marker included. */
export const MAX_FIELD_CHARS = 256;

/**
 * `value` cut to at most `max` characters, ending in a marker that says how many were cut
 * (`…[+10752]`). What a token claims (kid, iss, sub, jti) is the sender's choice, 11 KB of it if
 * they like, and every event is a log line, a ring entry and a Redis stream entry.
 */
export function boundText(value: string, max = MAX_FIELD_CHARS): string {
  if (value.length <= max) return value;
  // The marker's own length depends on the count it prints; one pass settles it.
  let keep = max - `…[+${value.length - max}]`.length;
  // Never split a surrogate pair: half a character is not valid UTF-8 when written out.
  const code = value.charCodeAt(keep - 1);
  if (code >= 0xd800 && code <= 0xdbff) keep -= 1;
  return `${value.slice(0, keep)}…[+${value.length - keep}]`;
}

/**
 * The event itself when none of its top-level strings is too long (the usual case: no copy),
 * else a copy with the same keys in the same order and every long string bounded.
 */
export function boundStrings<T extends object>(event: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const key in event) {
    const value = (event as Record<string, unknown>)[key];
    if (typeof value === 'string' && value.length > MAX_FIELD_CHARS) {
      copy ??= { ...(event as Record<string, unknown>) };
      copy[key] = boundText(value);
    }
  }
  return (copy ?? event) as T;
}
