import type { Logger } from 'pino';
import type { RevocationsConfig, StoreConfig } from '../config/schema.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
import { RevocationMirror } from './revocation-mirror.js';
import {
  makeRecord,
  type RevocationRecord,
  type RevocationSource,
  type RevocationSpec,
} from './revocation-record.js';
import type { RevocationStore } from './revocation-store.js';

export class RevocationRefusedError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
    this.name = 'RevocationRefusedError';
  }
}

export interface RevocationServiceOptions {
  readonly store: RevocationStore;
  readonly storeConfig: StoreConfig;
  readonly logger: Logger;
  readonly clock: () => number;
  /** Largest clock skew of any issuer: a revoked token is remembered this long past its exp. */
  readonly clockSkewSeconds: number;
}

/**
 * Keeps the hot-path mirror equal to the store: config revocations are written at start,
 * changes arrive by subscription, and a periodic version check resyncs an instance that
 * missed a message. Writes go to the store first and reach the mirror only once stored.
 */
export class RevocationService {
  readonly mirror = new RevocationMirror();
  private lastSyncAt: number;
  private lastVersion = -1;
  private timer: NodeJS.Timeout | undefined;
  private pendingConfig: RevocationRecord[] = [];
  /** Config records a reload dropped that the store has not confirmed removing yet (Redis away). */
  private pendingRemoval: string[] = [];
  private configured: RevocationRecord[] = [];
  private clockSkewSeconds: number;

  constructor(private readonly options: RevocationServiceOptions) {
    this.lastSyncAt = options.clock();
    this.clockSkewSeconds = options.clockSkewSeconds;
    options.store.subscribe((change) => {
      if (change.op === 'add') this.mirror.apply(change.record);
      else this.mirror.remove(change.id);
      // Seeing every change in order means the mirror equals that version: no reload needed.
      if (change.version !== undefined && change.version === this.lastVersion + 1)
        this.lastVersion = change.version;
      this.lastSyncAt = this.options.clock();
    });
    options.store.onReconnect(() => void this.sync());
  }

  get store(): RevocationStore {
    return this.options.store;
  }

  /** Loads config revocations and the store. A store that is down is not fatal: see readiness. */
  async start(config: RevocationsConfig): Promise<void> {
    const now = this.options.clock();
    this.pendingConfig = configRecords(config, now, this.clockSkewSeconds);
    this.configured = this.pendingConfig;
    // The config's revocations hold from the first request, whether or not the store answers.
    for (const record of this.pendingConfig) this.mirror.apply(record);
    // A store still connecting gets to answer first, so that the first request after a restart
    // already sees every stored revocation; a store that is down does not hold up the start.
    await this.options.store.settled();
    await this.sync();
    const every = this.options.storeConfig.resyncSeconds * 1000;
    this.timer = setInterval(() => void this.sync(), every);
    this.timer.unref();
  }

  /**
   * The `revocations:` section of a reloaded file: its new records hold at once (the mirror is
   * patched before this returns its promise), and records from the configuration that the file
   * no longer lists are lifted, which is the only way to lift them. The store is written after;
   * when it is away, the next sync writes what is left.
   */
  async applyConfig(
    config: RevocationsConfig,
    clockSkewSeconds: number,
  ): Promise<{ added: number; removed: number }> {
    this.clockSkewSeconds = clockSkewSeconds;
    const next = configRecords(config, this.options.clock(), clockSkewSeconds);
    const nextIds = new Set(next.map((r) => r.id));
    const known = new Set(this.configured.map((r) => r.id));
    const added = next.filter((r) => !known.has(r.id));
    // Also records an earlier configuration left in a shared store: they say "config" too.
    const droppedById = new Map<string, RevocationRecord>();
    for (const r of [...this.configured, ...this.mirror.list()]) {
      // What is in force decides: the same revocation made through the API stays.
      const inForce = this.mirror.get(r.id) ?? r;
      if (inForce.source === 'config' && !nextIds.has(r.id)) droppedById.set(r.id, inForce);
    }
    const dropped = [...droppedById.values()];
    this.configured = next;
    for (const record of added) if (this.mirror.get(record.id) === undefined) this.mirror.apply(record);
    for (const record of dropped) this.mirror.remove(record.id);
    this.pendingConfig = [...this.pendingConfig.filter((r) => !droppedById.has(r.id)), ...added];
    this.pendingRemoval = [...this.pendingRemoval.filter((id) => !nextIds.has(id)), ...droppedById.keys()];
    for (const record of added) {
      this.options.logger.warn(
        { event: 'revocation.added', revocation: record, created: true },
        `revoked ${describe(record)} (configuration reloaded)`,
      );
    }
    for (const record of dropped) {
      this.options.logger.warn(
        { event: 'revocation.removed', revocation: record, by: 'config' },
        `lifted ${describe(record)} (no longer in the configuration)`,
      );
    }
    await this.sync();
    return { added: added.length, removed: dropped.length };
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.options.store.close();
  }

  /** Seconds since the mirror was last known to equal the store. */
  staleSeconds(): number {
    return this.options.store.available ? 0 : (this.options.clock() - this.lastSyncAt) / 1000;
  }

  /** Whether fail-closed routes must refuse: the store is gone for longer than allowed. */
  isStale(): boolean {
    const { onUnavailable, maxStaleSeconds } = this.options.storeConfig;
    return onUnavailable === 'fail-closed' && this.staleSeconds() > maxStaleSeconds;
  }

  async revoke(
    spec: RevocationSpec,
    facts: { reason?: string | undefined; by: string; source: RevocationSource },
  ): Promise<{ record: RevocationRecord; created: boolean }> {
    const record = makeRecord(spec, {
      ...facts,
      now: this.options.clock(),
      clockSkewSeconds: this.clockSkewSeconds,
    });
    const stored = await this.options.store.add(record);
    this.mirror.apply(stored.record);
    this.options.logger.warn(
      { event: 'revocation.added', revocation: stored.record, created: stored.created },
      `revoked ${describe(stored.record)}`,
    );
    return stored;
  }

  async unrevoke(id: string, by: string): Promise<RevocationRecord> {
    const record = this.mirror.get(id) ?? (await this.options.store.list()).find((r) => r.id === id);
    if (record === undefined) throw new RevocationRefusedError(`no revocation with id ${id}`, 404);
    if (record.source === 'config') {
      throw new RevocationRefusedError(
        `revocation ${id} comes from the configuration file; remove it there and reload, it cannot be lifted through the API`,
        409,
      );
    }
    const removed = await this.options.store.remove(id, by);
    this.mirror.remove(id);
    this.options.logger.warn(
      { event: 'revocation.removed', revocation: removed ?? record, by },
      `lifted ${describe(record)}`,
    );
    return removed ?? record;
  }

  list(): RevocationRecord[] {
    return this.mirror.list();
  }

  /** Reloads the mirror from the store when its version moved; writes pending config records. */
  async sync(): Promise<void> {
    const store = this.options.store;
    try {
      if (this.pendingConfig.length > 0) {
        for (const record of this.pendingConfig) await store.add(record);
        this.pendingConfig = [];
      }
      while (this.pendingRemoval.length > 0) {
        await store.remove(this.pendingRemoval[0]!, 'config');
        this.pendingRemoval.shift();
      }
      const version = await store.version();
      if (version !== this.lastVersion) {
        const records = await store.list();
        // A store that lost its data (Redis restarted without persistence) gets the config's back.
        const lost = this.lostConfigRecords(records);
        for (const record of lost) await store.add(record);
        this.mirror.replaceAll([...records, ...lost]);
        this.lastVersion = version;
      }
      const expired = this.mirror.expire(this.options.clock());
      for (const id of expired) await store.remove(id);
      this.lastSyncAt = this.options.clock();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.options.logger.warn(
        { event: 'revocation.sync_failed', err: err.message },
        'revocation store unavailable',
      );
    }
  }

  private lostConfigRecords(stored: readonly RevocationRecord[]): RevocationRecord[] {
    const ids = new Set(stored.map((r) => r.id));
    const now = this.options.clock();
    return this.configured.filter((r) => !ids.has(r.id) && (r.expiresAt === undefined || r.expiresAt > now));
  }
}

function configRecords(config: RevocationsConfig, now: number, clockSkewSeconds: number): RevocationRecord[] {
  const facts = { by: 'config', source: 'config' as const, now, clockSkewSeconds };
  const specs: { spec: RevocationSpec; reason: string | undefined }[] = [
    ...config.keys.map((k) => ({
      spec: { kind: 'key' as const, issuer: k.issuer, kid: k.kid },
      reason: k.reason,
    })),
    ...config.tokens.map((t) => ({
      spec: { kind: 'token' as const, issuer: t.issuer, jti: t.jti, exp: t.exp },
      reason: t.reason,
    })),
    ...config.subjects.map((s) => ({
      spec: { kind: 'subject' as const, issuer: s.issuer, sub: s.sub, before: s.before },
      reason: s.reason,
    })),
    ...config.issuers.map((i) => ({
      spec: { kind: 'issuer' as const, issuer: i.issuer, before: i.before },
      reason: i.reason,
    })),
  ];
  return specs.map(({ spec, reason }) => makeRecord(spec, { ...facts, reason }));
}

export function describe(r: RevocationRecord): string {
  switch (r.kind) {
    case 'key':
      return `key ${r.kid} of ${r.issuer}`;
    case 'token':
      return `token ${r.jti} of ${r.issuer}`;
    case 'subject':
      return `subject ${r.sub} of ${r.issuer} before ${r.before}`;
    case 'issuer':
      return `every token of ${r.issuer} issued before ${r.before}`;
  }
}
