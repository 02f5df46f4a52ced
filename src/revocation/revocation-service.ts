import type { Logger } from 'pino';
import type { RevocationsConfig, StoreConfig } from '../config/schema.js';
import { MirrorSync } from '../store/mirror-sync.js';
import { sendOwed } from '../store/mirrored-store.js';
import { RevocationMirror } from './revocation-mirror.js';
import {
  makeRecord,
  type RecordFacts,
  type RevocationRecord,
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

/** Who asks for a revocation, and why; the service adds when. */
export type RevokeFacts = Omit<RecordFacts, 'now' | 'clockSkewSeconds'>;

/**
 * Revocations: the hot-path mirror, kept equal to the store by the one MirrorSync, and the
 * revocation write policy. Writes go to the store first and reach the mirror only once stored,
 * so a 201 means stored. The configuration's revocations hold from the first request; writing
 * them to the store (and lifting the ones a reloaded file dropped) is owed until it succeeds.
 */
export class RevocationService {
  readonly mirror = new RevocationMirror();
  private readonly syncer: MirrorSync<RevocationRecord>;
  private pendingConfig: RevocationRecord[] = [];
  /** Config records a reload dropped that the store has not confirmed removing yet (Redis away). */
  private pendingRemoval: string[] = [];
  private configured: RevocationRecord[] = [];
  private clockSkewSeconds: number;

  constructor(private readonly options: RevocationServiceOptions) {
    this.clockSkewSeconds = options.clockSkewSeconds;
    this.syncer = new MirrorSync(
      options.store,
      this.mirror,
      {
        flushPending: () => this.flushPending(),
        reinstate: (stored) => this.reinstateConfig(stored),
      },
      {
        family: 'revocation',
        awayMessage: 'revocation store unavailable; serving the last known revocations',
        logger: options.logger,
        clock: options.clock,
        resyncMs: options.storeConfig.resyncSeconds * 1000,
      },
    );
  }

  get store(): RevocationStore {
    return this.options.store;
  }

  /** Loads config revocations and the store. A store that is down is not fatal: see readiness. */
  async start(config: RevocationsConfig): Promise<void> {
    this.pendingConfig = configRecords(config, this.options.clock(), this.clockSkewSeconds);
    this.configured = this.pendingConfig;
    // The config's revocations hold from the first request, whether or not the store answers.
    for (const record of this.pendingConfig) this.mirror.apply(record);
    // A store still connecting gets to answer first, so that the first request after a restart
    // already sees every stored revocation; a store that is down does not hold up the start.
    await this.syncer.start();
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
    await this.syncer.stop();
    await this.options.store.close();
  }

  /** Seconds since the mirror was last known to equal the store (the last successful exchange). */
  staleSeconds(): number {
    return this.syncer.staleSeconds();
  }

  /** Whether fail-closed routes must refuse: the store is gone for longer than allowed. */
  isStale(): boolean {
    const { onUnavailable, maxStaleSeconds } = this.options.storeConfig;
    return onUnavailable === 'fail-closed' && this.staleSeconds() > maxStaleSeconds;
  }

  async revoke(
    spec: RevocationSpec,
    facts: RevokeFacts,
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

  /** Writes what the configuration still owes the store, and brings the mirror up to it. */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  private async flushPending(): Promise<void> {
    const store = this.options.store;
    await sendOwed(
      this.pendingConfig,
      (record) => store.add(record),
      (record) => {
        this.pendingConfig = this.pendingConfig.filter((r) => r !== record);
      },
    );
    await sendOwed(
      this.pendingRemoval,
      (id) => store.remove(id, 'config'),
      (id) => {
        this.pendingRemoval = this.pendingRemoval.filter((r) => r !== id);
      },
    );
  }

  /** A store that lost its data (Redis restarted without persistence) gets the config's back. */
  private async reinstateConfig(stored: readonly RevocationRecord[]): Promise<RevocationRecord[]> {
    const ids = new Set(stored.map((r) => r.id));
    const now = this.options.clock();
    const lost = this.configured.filter(
      (r) => !ids.has(r.id) && (r.expiresAt === undefined || r.expiresAt > now),
    );
    for (const record of lost) await this.options.store.add(record);
    return lost;
  }
}

function configRecords(config: RevocationsConfig, now: number, clockSkewSeconds: number): RevocationRecord[] {
  // The file lists revocations by kind, each entry the kind's own schema plus a reason.
  const listed: { spec: RevocationSpec; reason: string | undefined }[] = [
    ...config.keys.map(({ reason, ...what }) => ({ spec: { kind: 'key' as const, ...what }, reason })),
    ...config.tokens.map(({ reason, ...what }) => ({ spec: { kind: 'token' as const, ...what }, reason })),
    ...config.subjects.map(({ reason, ...what }) => ({
      spec: { kind: 'subject' as const, ...what },
      reason,
    })),
    ...config.issuers.map(({ reason, ...what }) => ({ spec: { kind: 'issuer' as const, ...what }, reason })),
  ];
  const facts = { by: 'config', source: 'config' as const, now, clockSkewSeconds };
  return listed.map(({ spec, reason }) => makeRecord(spec, { ...facts, reason }));
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
    case 'session':
      return `session ${r.sid} of ${r.issuer}`;
  }
}
