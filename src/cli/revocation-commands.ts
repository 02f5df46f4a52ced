import { userInfo } from 'node:os';
import { maxClockSkewSeconds } from '../config/max-clock-skew.js';
import type { Config } from '../config/schema.js';
import { countReached } from '../lineage/lineage-service.js';
import { RedisLineageStore } from '../lineage/redis-lineage-store.js';
import { createLogger } from '../observability/logger.js';
import { RedisRevocationStore } from '../revocation/redis-store.js';
import { makeRecord, type RevocationRecord } from '../revocation/revocation-record.js';
import { revocationRequestSchema } from '../revocation/revocation-request.js';
import { describe } from '../revocation/revocation-service.js';
import type { AuditEntry } from '../revocation/revocation-store.js';
import { callAdmin } from './admin-client.js';
import { changesGoThroughGateway } from './admin-credential.js';
import { CliError } from './cli-error.js';
import { withRedisStore } from './with-redis-store.js';

type Out = (line: string) => void;

/**
 * With the Redis store the CLI writes to Redis itself, so no gateway need be running; with
 * the memory store the only copy is inside the running gateway, so it goes through its admin API.
 */
export async function revokeCommand(
  config: Config,
  kind: string,
  values: Record<string, unknown>,
  out: Out,
): Promise<void> {
  const by = typeof values.by === 'string' ? values.by : `cli:${safeUser()}`;
  const given = {
    kind,
    issuer: values.issuer,
    kid: values.kid,
    jti: values.jti,
    sub: values.sub,
    before: values.before,
    exp: values.exp === undefined ? undefined : Number(values.exp),
    reason: values.reason,
    by,
  };
  // The schema is strict per kind: an option not given must be absent, not present as undefined.
  const parsed = revocationRequestSchema.safeParse(
    Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
  );
  if (!parsed.success) {
    throw new CliError(
      parsed.error.issues.map((i) => `--${String(i.path[0] ?? 'kind')}: ${i.message}`).join('\n'),
    );
  }
  const request = parsed.data;
  if (config.issuers[request.issuer] === undefined)
    throw new CliError(`--issuer: unknown issuer ${request.issuer}`);
  if (config.store.kind === 'redis' && !changesGoThroughGateway(config)) {
    await withRedis(config, async (store) => {
      const { reason, by: _asked, ...spec } = request;
      const record = makeRecord(spec, {
        reason,
        by,
        source: 'cli',
        now: Date.now(),
        clockSkewSeconds: maxClockSkewSeconds(config),
      });
      const { record: stored, created } = await store.add(record);
      out(`${created ? 'revoked' : 'already revoked'}: ${describe(stored)}  id=${stored.id}`);
      // The minted tokens it takes down, from the shared lineage records (no gateway asked).
      const lineage = new RedisLineageStore(store.link, {
        prefix: config.store.prefix,
        logger: createLogger('silent'),
      });
      tookDown(countReached(await lineage.list(), spec, Date.now()), out);
    });
    return;
  }
  const res = await callAdmin(config, 'POST', '/revocations', request);
  if (res.status !== 200 && res.status !== 201)
    throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
  const stored = res.body as unknown as RevocationRecord;
  out(`${res.status === 201 ? 'revoked' : 'already revoked'}: ${describe(stored)}  id=${stored.id}`);
  if (typeof res.body.descendants === 'number') tookDown(res.body.descendants, out);
}

/** How many live minted tokens now die with what was revoked (their lineage reaches it). */
function tookDown(descendants: number, out: Out): void {
  if (descendants > 0) out(`took down ${descendants} live minted token(s) derived from it (parent_revoked)`);
}

export async function listRevocationsCommand(config: Config, out: Out): Promise<void> {
  let records: RevocationRecord[];
  if (config.store.kind === 'redis') {
    records = await withRedis(config, (store) => store.list());
  } else {
    const res = await callAdmin(config, 'GET', '/revocations');
    if (res.status !== 200)
      throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
    records = (res.body.revocations as RevocationRecord[]) ?? [];
  }
  if (records.length === 0) out('no revocations');
  for (const r of records.sort((a, b) => a.at.localeCompare(b.at))) {
    out(
      `${r.id}  ${r.at}  by ${who(r.by, r.byIssuer)} (${r.source})  ${describe(r)}${r.reason ? `  reason: ${r.reason}` : ''}${r.note ? `  note: ${r.note}` : ''}`,
    );
  }
}

/** Every add and removal, oldest first: what `revocations list` no longer shows once lifted or expired. */
export async function revocationAuditCommand(config: Config, out: Out): Promise<void> {
  let entries: AuditEntry[];
  if (config.store.kind === 'redis') {
    entries = await withRedis(config, (store) => store.audit(10_000));
  } else {
    const res = await callAdmin(config, 'GET', '/revocations/audit?limit=10000');
    if (res.status !== 200)
      throw new CliError(`gateway refused (${res.status}): ${JSON.stringify(res.body)}`);
    entries = (res.body.audit as AuditEntry[]) ?? [];
  }
  if (entries.length === 0) out('no audit entries');
  for (const e of entries) {
    const what = e.record !== undefined ? `${describe(e.record)}  id=${e.record.id}` : `id=${e.id}`;
    const why = e.record?.reason ? `  reason: ${e.record.reason}` : '';
    out(`${e.at}  ${e.op === 'add' ? 'revoked' : 'lifted '}  by ${e.by}  ${what}${why}`);
  }
}

export async function unrevokeCommand(config: Config, id: string | undefined, out: Out): Promise<void> {
  if (id === undefined) throw new CliError('usage: provgate unrevoke <id> --config FILE');
  if (config.store.kind === 'redis' && !changesGoThroughGateway(config)) {
    await withRedis(config, async (store) => {
      const existing = (await store.list()).find((r) => r.id === id);
      if (existing === undefined) throw new CliError(`no revocation with id ${id}`);
      if (existing.source === 'config') {
        throw new CliError(`revocation ${id} comes from the configuration file; remove it there instead`);
      }
      await store.remove(id, `cli:${safeUser()}`);
      out(`lifted: ${describe(existing)}`);
    });
    return;
  }
  const res = await callAdmin(config, 'DELETE', `/revocations/${encodeURIComponent(id)}`);
  if (res.status !== 200)
    throw new CliError(
      `gateway refused (${res.status}): ${String(res.body.message ?? JSON.stringify(res.body))}`,
    );
  out(`lifted: ${describe(res.body.removed as RevocationRecord)}`);
}

function withRedis<T>(config: Config, work: (store: RedisRevocationStore) => Promise<T>): Promise<T> {
  return withRedisStore(
    'revocation store',
    config.store,
    (link) => new RedisRevocationStore(link, { prefix: config.store.prefix, logger: createLogger('silent') }),
    work,
  );
}

/** An operator as `sub@issuer`; `static-token`, `config` and `cli:<user>` as they are. */
function who(by: string, issuer: string | undefined): string {
  return issuer === undefined ? by : `${by}@${issuer}`;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
