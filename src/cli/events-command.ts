import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { eventStreamKey } from '../observability/event-stream.js';
import { atLeast, isSeverity } from '../observability/recent-events.js';
import { connect } from '../store/redis-link.js';
import type { Severity } from '../verify/reasons.js';
import { callAdmin } from './admin-client.js';
import { CliError } from './cli-error.js';

type Out = (line: string) => void;

export interface TailOptions {
  /** Minimum severity shown. */
  readonly severity?: Severity | undefined;
  /** Epoch ms: start with the events since then instead of only new ones. */
  readonly sinceMs?: number | undefined;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--severity` and `--since` (a duration back from now like 15m, 1h, 2d, or an RFC 3339 instant). */
export function tailOptions(values: Record<string, unknown>, now: number): TailOptions {
  const severity = values.severity;
  if (severity !== undefined && !isSeverity(severity))
    throw new CliError('--severity: low, high or critical');
  const since = values.since;
  let sinceMs: number | undefined;
  if (typeof since === 'string') {
    const duration = /^(\d+)([smhd])$/.exec(since);
    sinceMs = duration !== null ? now - Number(duration[1]) * UNITS[duration[2]!]! : Date.parse(since);
    if (Number.isNaN(sinceMs))
      throw new CliError('--since: a duration like 15m, 1h, 2d or an RFC 3339 instant');
  }
  return { severity: severity as Severity | undefined, sinceMs };
}

/**
 * `provgate events tail`: one JSON line per security event, until interrupted. With the Redis
 * store it follows the stream every instance writes (XREAD BLOCK), so no gateway need answer;
 * with the memory store it follows the running gateway's recent events over the admin API.
 */
export async function eventsTailCommand(
  config: Config,
  options: TailOptions,
  out: Out,
  signal?: AbortSignal,
): Promise<void> {
  if (config.store.kind === 'redis') await tailRedis(config, options, out, signal);
  else await tailAdmin(config, options, out, signal);
}

async function tailRedis(
  config: Config,
  options: TailOptions,
  out: Out,
  signal?: AbortSignal,
): Promise<void> {
  const client = connect(config.store);
  client.on('error', () => {});
  const key = eventStreamKey(config.store.prefix);
  const stop = () => client.disconnect();
  const aborted = () => signal?.aborted === true;
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await waitReady(client, 5000);
    // Resolve "from now" to a concrete id, so that nothing written between two reads is missed.
    let id = options.sinceMs !== undefined ? `${Math.floor(options.sinceMs)}-0` : await lastId(client, key);
    while (!aborted()) {
      let result: [string, [string, string[]][]][] | null;
      try {
        result = (await client.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', key, id)) as typeof result;
      } catch (err) {
        if (aborted()) return;
        process.stderr.write(`provgate: event stream: ${(err as Error).message}; retrying\n`);
        await sleep(1000);
        continue;
      }
      for (const [, entries] of result ?? []) {
        for (const [entryId, fields] of entries) {
          id = entryId;
          const data = fieldOf(fields, 'data');
          const severity = fieldOf(fields, 'severity');
          if (data === undefined || !isSeverity(severity) || !atLeast(severity, options.severity)) continue;
          out(data);
        }
      }
    }
  } catch (err) {
    if (aborted()) return;
    throw err instanceof CliError ? err : new CliError(`event stream: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', stop);
    client.disconnect();
  }
}

async function tailAdmin(
  config: Config,
  options: TailOptions,
  out: Out,
  signal?: AbortSignal,
): Promise<void> {
  const query = (after: number | undefined) => {
    const params = new URLSearchParams();
    if (after !== undefined) params.set('after', String(after));
    if (options.severity !== undefined) params.set('severity', options.severity);
    if (options.sinceMs !== undefined) params.set('since', String(Math.floor(options.sinceMs)));
    return `/events?${params.toString()}`;
  };
  let after: number | undefined;
  if (options.sinceMs === undefined) {
    const first = await callAdmin(config, 'GET', '/events?limit=1');
    if (first.status !== 200)
      throw new CliError(`gateway refused (${first.status}): ${JSON.stringify(first.body)}`);
    after = first.body.latestSeq as number;
  }
  let warned = false;
  while (signal?.aborted !== true) {
    try {
      const res = await callAdmin(config, 'GET', query(after));
      if (res.status !== 200)
        throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
      const latest = res.body.latestSeq as number;
      // A restarted gateway counts from zero again: follow it from its start.
      if (after !== undefined && latest < after) after = 0;
      for (const stored of res.body.events as { seq: number; time: number; event: object }[]) {
        out(JSON.stringify({ ...stored.event, time: new Date(stored.time).toISOString() }));
        after = stored.seq;
      }
      after = Math.max(after ?? 0, latest);
      warned = false;
    } catch (err) {
      if (err instanceof CliError && /refused \((401|503)\)/.test(err.message)) throw err;
      if (!warned) process.stderr.write(`provgate: ${(err as Error).message}; retrying\n`);
      warned = true;
    }
    await sleep(1000, undefined, { signal }).catch(() => {});
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

async function lastId(client: ReturnType<typeof connect>, key: string): Promise<string> {
  const last = (await client.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last[0]?.[0] ?? '0-0';
}

async function waitReady(client: ReturnType<typeof connect>, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CliError('redis not reachable (5 s)')), timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
