import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config, TransmitterConfig } from '../config/schema.js';
import { readPrivateKey } from '../demo/dev-keys.js';
import { createLogger } from '../observability/logger.js';
import { RedisSignalStore } from '../signals/redis-signal-store.js';
import { signSet, subjectFromText } from '../signals/sign-set.js';
import type { TransmitterState } from '../signals/signal-store.js';
import { callAdmin } from './admin-client.js';
import { CliError, required } from './cli-error.js';
import { withRedisStore } from './with-redis-store.js';

type Out = (line: string) => void;

/**
 * `provgate signals status`: every transmitter with its stream state, last event and last error.
 * With the Redis store it reads what every instance wrote there (no gateway needs to answer);
 * with the memory store it asks the running gateway's admin API.
 */
export async function signalsStatusCommand(config: Config, out: Out): Promise<void> {
  const signals = config.signals;
  if (signals === undefined) throw new CliError('the configuration has no signals: section');
  let states: Record<string, TransmitterState & { keys?: { loaded: boolean; lastError?: string } }>;
  if (config.store.kind === 'redis') {
    states = await withRedisStore(
      'signal store',
      config.store,
      (link) => new RedisSignalStore(link, { prefix: config.store.prefix, logger: createLogger('silent') }),
      (store) => store.transmitters(),
    );
  } else {
    const res = await callAdmin(config, 'GET', '/signals');
    if (res.status !== 200)
      throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
    const list = (res.body.transmitters ?? []) as (TransmitterState & { name: string })[];
    states = Object.fromEntries(list.map((t) => [t.name, t]));
  }
  for (const [name, def] of Object.entries(signals.transmitters)) {
    for (const line of describeTransmitter(name, def, states[name] ?? {})) out(line);
  }
}

export function describeTransmitter(
  name: string,
  def: TransmitterConfig,
  state: TransmitterState & { keys?: { loaded: boolean; lastError?: string } },
): string[] {
  const stream = state.stream ?? 'enabled';
  const up = stream === 'enabled' ? 'up' : 'DOWN';
  const lines = [`${name}  ${def.issuer}  ${def.delivery}  governs ${def.subjects.join(', ')}  ${up}`];
  lines.push(
    `  stream ${stream}${state.streamSince === undefined ? '' : ` since ${state.streamSince}`}${state.streamReason ? ` (${state.streamReason})` : ''}`,
  );
  lines.push(
    state.lastEventAt === undefined
      ? '  last event: none yet'
      : `  last event: ${state.lastEvent} at ${state.lastEventAt} (SET jti ${state.lastJti})`,
  );
  if (state.lastError !== undefined) lines.push(`  last error: ${state.lastError} at ${state.lastErrorAt}`);
  lines.push(
    state.lastVerifiedAt === undefined
      ? '  verified: never (provgate signals verify)'
      : `  verified: ${state.lastVerifiedAt}`,
  );
  if (state.lastVerification === 'unexpected')
    lines.push(`  last verification SET: ${state.lastVerificationAt}, with a state not asked for`);
  if (state.keys !== undefined && !state.keys.loaded)
    lines.push(`  KEYS NOT LOADED: ${state.keys.lastError ?? 'no answer yet'}`);
  return lines;
}

/**
 * `provgate signals verify --transmitter NAME [--wait SECONDS]`: the gateway asks the transmitter
 * for a verification event (SSF 1.0 section 8.1.4) through the admin API; with --wait, waits until
 * a gateway instance has seen it come back with the state asked for.
 */
export async function signalsVerifyCommand(
  config: Config,
  values: Record<string, unknown>,
  out: Out,
): Promise<void> {
  if (config.signals === undefined) throw new CliError('the configuration has no signals: section');
  const name = required(values, 'transmitter');
  const res = await callAdmin(config, 'POST', `/signals/${encodeURIComponent(name)}/verify`);
  if (res.status !== 202)
    throw new CliError(
      `verification not asked for (${res.status}): ${String(res.body.message ?? JSON.stringify(res.body))}`,
    );
  const requestedAt = String(res.body.requestedAt);
  out(
    `verification of ${name} asked for at ${String(res.body.endpoint)}; the state waits until ${String(res.body.expiresAt)}`,
  );
  if (values.wait === undefined) return;
  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0) throw new CliError('--wait: a number of seconds');
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const status = await callAdmin(config, 'GET', '/signals');
    const list = (status.body.transmitters ?? []) as (TransmitterState & { name: string })[];
    const verifiedAt = list.find((t) => t.name === name)?.lastVerifiedAt;
    if (verifiedAt !== undefined && verifiedAt >= requestedAt) {
      out(`${name} verified at ${verifiedAt}`);
      return;
    }
    if (Date.now() >= deadline)
      throw new CliError(`${name}: no verification event with the state asked for within ${waitSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface SendOptions {
  readonly configPath: string;
  readonly values: Record<string, unknown>;
}

/**
 * `provgate signals send`: development and tests only. Signs a SET as one of the configured
 * transmitters with its development key (`--key`, else the private key that `keys generate`
 * wrote beside the transmitter's key file) and pushes it to the gateway, or prints it (`--print`).
 */
export async function signalsSendCommand(config: Config, options: SendOptions, out: Out): Promise<void> {
  const { values } = options;
  const signals = config.signals;
  if (signals === undefined) throw new CliError('the configuration has no signals: section');
  const name = (values.transmitter as string | undefined) ?? Object.keys(signals.transmitters)[0]!;
  const def = signals.transmitters[name];
  if (def === undefined) throw new CliError(`--transmitter: no transmitter ${name} in the configuration`);
  const set = await makeSet(config, options.configPath, name, def, values);
  if (values.print === true) {
    out(set);
    return;
  }
  const url = (values.url as string | undefined) ?? pushUrlOf(config);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/secevent+jwt',
        accept: 'application/json',
        ...(def.authorization === undefined ? {} : { authorization: def.authorization }),
      },
      body: set,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 202) {
    out(`202 accepted by ${url}`);
    return;
  }
  throw new CliError(`${res.status} from ${url}: ${text}`);
}

/** The SET `signals send` would push, signed. */
export async function makeSet(
  config: Config,
  configPath: string,
  name: string,
  def: TransmitterConfig,
  values: Record<string, unknown>,
): Promise<string> {
  const event = required(values, 'event');
  const governed = config.issuers[def.subjects[0]!];
  const subject = (() => {
    try {
      return subjectFromText(required(values, 'subject'), governed?.issuer ?? def.issuer);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--subject: ${(err as Error).message}`);
    }
  })();
  const keyPath = (values.key as string | undefined) ?? devKeyPath(configPath, name, def);
  const key = await readPrivateKey(keyPath).catch(() => {
    throw new CliError(`--key: cannot read the private key ${keyPath}`);
  });
  const payload: Record<string, unknown> = { event_timestamp: timestampOf(values.timestamp) };
  if (event === 'session-revoked') payload.reason_admin = { en: 'revoked with provgate signals send' };
  for (const pair of (values.claim as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--claim ${pair}: expected name=value`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    payload[pair.slice(0, eq)] = value;
  }
  const aud = typeof def.audience === 'string' ? def.audience : def.audience[0]!;
  return signSet(key, { iss: def.issuer, aud, event, subject, payload });
}

/** Where the gateway of this configuration takes pushed SETs. */
export function pushUrlOf(config: Config): string {
  const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}${config.signals?.push.path ?? '/ssf/events'}`;
}

/** `keys generate --issuer <transmitter>` writes `<dir>/private/<transmitter>.<kid>.jwk.json`. */
function devKeyPath(configPath: string, name: string, def: TransmitterConfig): string {
  if (def.keys.file === undefined)
    throw new CliError(
      `--key is required: transmitter ${name} has no key file to find a development key beside`,
    );
  const dir = join(dirname(resolve(dirname(resolve(configPath)), def.keys.file)), 'private');
  let found: string[] = [];
  try {
    found = readdirSync(dir).filter((f) => f.startsWith(`${name}.`) && f.endsWith('.jwk.json'));
  } catch {
    // no folder
  }
  if (found.length !== 1)
    throw new CliError(
      `--key is required: ${found.length === 0 ? 'no' : 'more than one'} development key for ${name} in ${dir}`,
    );
  return join(dir, found[0]!);
}

function timestampOf(value: unknown): number {
  if (value === undefined) return Math.floor(Date.now() / 1000);
  const text = String(value);
  const seconds = /^\d+$/.test(text) ? Number(text) : Date.parse(text) / 1000;
  if (!Number.isFinite(seconds)) throw new CliError('--timestamp: epoch seconds or an RFC 3339 instant');
  return Math.floor(seconds);
}
