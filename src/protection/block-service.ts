import type { Logger } from 'pino';
import { BlockMirror } from './block-mirror.js';
import type { BlockRecord } from './block-record.js';
import type { BlockStore } from './block-store.js';

export class BlockNotFoundError extends Error {
  constructor(id: string) {
    super(`no active block with id ${id}`);
    this.name = 'BlockNotFoundError';
  }
}

export interface BlockServiceOptions {
  readonly store: BlockStore;
  readonly logger: Logger;
  readonly clock: () => number;
  /** How often the mirror is compared with the store, in case a pub/sub message was missed. */
  readonly resyncMs: number;
}

/**
 * Keeps the mirror equal to the store. A block decided here applies here at once, before the
 * store has it; the write then reaches the other instances through the store's pub/sub. A write
 * that fails (Redis away) is kept and sent again at the next resync: a block is never lost.
 */
export class BlockService {
  readonly mirror = new BlockMirror();
  /** Decided here, not yet confirmed by the store. */
  private readonly unconfirmed = new Map<string, BlockRecord>();
  private lastVersion = -1;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BlockServiceOptions) {
    options.store.subscribe((change) => {
      if (change.op === 'add') this.mirror.apply(change.block);
      else {
        this.unconfirmed.delete(change.id);
        this.mirror.remove(change.id);
      }
    });
    options.store.onReconnect(() => void this.sync());
  }

  get store(): BlockStore {
    return this.options.store;
  }

  async start(): Promise<void> {
    await this.options.store.settled();
    await this.sync();
    this.timer = setInterval(() => void this.sync(), this.options.resyncMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sync();
    await this.options.store.close();
  }

  /** Whether this block is new (or longer) here; only then does the caller log the anomaly. */
  block(block: BlockRecord): boolean {
    const current = this.mirror.get(block.id);
    const now = this.options.clock();
    if (current !== undefined && current.expiresAt > now && current.expiresAt >= block.expiresAt)
      return false;
    this.mirror.apply(block);
    this.unconfirmed.set(block.id, block);
    void this.write(block);
    return true;
  }

  async unblock(id: string): Promise<BlockRecord> {
    const removed = await this.options.store.remove(id);
    this.unconfirmed.delete(id);
    const local = this.mirror.remove(id);
    const block = removed ?? local;
    if (block === undefined) throw new BlockNotFoundError(id);
    this.options.logger.warn({ event: 'block.lifted', block: summary(block) }, `lifted block ${id}`);
    return block;
  }

  list(): BlockRecord[] {
    return this.mirror.list(this.options.clock());
  }

  /** Reloads the mirror when the store's version moved; retries unconfirmed writes; drops expired blocks. */
  async sync(): Promise<void> {
    const { store, clock } = this.options;
    try {
      for (const block of [...this.unconfirmed.values()]) await this.write(block);
      const version = await store.version();
      if (version !== this.lastVersion) {
        const blocks = await store.list(clock());
        this.mirror.replaceAll(blocks);
        // Writes still on their way must not vanish from the mirror in the meantime.
        for (const block of this.unconfirmed.values()) this.mirror.apply(block);
        this.lastVersion = version;
      }
      this.mirror.expire(clock());
      await store.prune(clock());
    } catch (err) {
      this.options.logger.warn(
        { event: 'block.sync_failed', err: (err as Error).message },
        'block store unavailable; blocks decided here hold here and are sent when it returns',
      );
    }
  }

  private async write(block: BlockRecord): Promise<void> {
    try {
      await this.options.store.add(block, this.options.clock());
      if (this.unconfirmed.get(block.id) === block) this.unconfirmed.delete(block.id);
    } catch {
      // kept in `unconfirmed`; the next sync sends it again
    }
  }
}

export function summary(block: BlockRecord): Record<string, unknown> {
  return {
    id: block.id,
    target: block.target,
    value: block.value,
    rule: block.rule,
    expiresAt: new Date(block.expiresAt).toISOString(),
  };
}
