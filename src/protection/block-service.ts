import type { Logger } from 'pino';
import { MirrorSync } from '../store/mirror-sync.js';
import { sendOwed } from '../store/mirrored-store.js';
import { StoreUnavailableError } from '../store/store-unavailable-error.js';
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
 * Blocks: the hot-path mirror, kept equal to the store by the one MirrorSync, and the block write
 * policy, mirror first. A block decided here applies here at once, before the store has it; the
 * write then reaches the other instances through the store's pub/sub. A write refused because
 * the store is away is kept and sent again at each sync: a block is never lost to an outage.
 */
export class BlockService {
  readonly mirror = new BlockMirror();
  /** Decided here, not yet confirmed by the store. */
  private readonly unconfirmed = new Map<string, BlockRecord>();
  private readonly syncer: MirrorSync<BlockRecord>;

  constructor(private readonly options: BlockServiceOptions) {
    this.syncer = new MirrorSync(
      options.store,
      this.mirror,
      {
        flushPending: () =>
          sendOwed(
            this.unconfirmed.values(),
            (block) => this.options.store.add(block, this.options.clock()),
            (block) => this.settle(block),
          ),
        // Writes still on their way must not vanish from the mirror in the meantime.
        reinstate: async () => [...this.unconfirmed.values()],
        // Lifted elsewhere while our write was pending: nothing is owed any more.
        onChange: (change) => {
          if (change.op === 'remove') this.unconfirmed.delete(change.id);
        },
      },
      {
        family: 'block',
        awayMessage: 'block store unavailable; blocks decided here hold here and are sent when it returns',
        logger: options.logger,
        clock: options.clock,
        resyncMs: options.resyncMs,
      },
    );
  }

  get store(): BlockStore {
    return this.options.store;
  }

  start(): Promise<void> {
    return this.syncer.start();
  }

  /** Sends what is still owed (when the store answers), then lets go of the store. */
  async stop(): Promise<void> {
    await this.syncer.stop({ flush: true });
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

  /** Sends unconfirmed blocks, reloads the mirror when the store's version moved, drops expired blocks. */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  private async write(block: BlockRecord): Promise<void> {
    try {
      await this.options.store.add(block, this.options.clock());
    } catch (err) {
      // Away: kept in `unconfirmed`, sent again by the next sync.
      if (err instanceof StoreUnavailableError) return;
      // Anything else is a bug: said once as one, and not retried as if Redis were away.
      this.settle(block);
      this.options.logger.error(
        { event: 'block.write_error', err, block: summary(block) },
        `block ${block.id} not stored: ${(err as Error).message}`,
      );
      return;
    }
    this.settle(block);
  }

  /** The store has it (or never will): a newer decision for the same id stays owed. */
  private settle(block: BlockRecord): void {
    if (this.unconfirmed.get(block.id) === block) this.unconfirmed.delete(block.id);
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
