// The one sync protocol for mirrored state, on a memory store and a fake clock (milliseconds):
// what a mirror does when a message is lost, when the store goes away and comes back, when a
// write is owed, and when something fails that is not an outage.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import type { Change } from '../../../src/store/change-message.js';
import { MemoryRecords } from '../../../src/store/memory-records.js';
import { MirrorSync } from '../../../src/store/mirror-sync.js';
import {
  type Mirror,
  type MirroredStore,
  type Snapshot,
  type SyncPolicy,
  sendOwed,
} from '../../../src/store/mirrored-store.js';
import { StoreUnavailableError } from '../../../src/store/store-unavailable-error.js';
import { TestClock } from '../../helpers/clock.js';

interface Item {
  readonly id: string;
  readonly value: string;
  readonly expiresAt?: number | undefined;
}

/**
 * A memory store that can lose messages, go away and come back, and fail the way a bug does.
 * Going away also loses every message meanwhile, as a dropped subscriber does.
 */
class TestStore implements MirroredStore<Item> {
  readonly kind = 'memory' as const;
  records = new MemoryRecords<Item>();
  away = false;
  /** Thrown by every call while set: not an outage. */
  bug: Error | undefined;
  dropNext = 0;
  snapshots = 0;
  removeExpiredCalls = 0;
  private readonly listeners = new Set<(change: Change<Item>) => void>();
  private readonly reconnect = new Set<() => void>();

  constructor() {
    this.follow();
  }

  /** Redis restarted without its data: empty, and counting from 0 again. */
  reset(): void {
    this.records = new MemoryRecords<Item>();
    this.follow();
  }

  get available(): boolean {
    return !this.away;
  }

  get unavailableReason(): string | undefined {
    return this.away ? 'test outage' : undefined;
  }

  /** What another instance writes: straight into the store, announced to subscribers. */
  put(item: Item): void {
    this.records.put(item);
  }

  delete(id: string): void {
    this.records.delete(id);
  }

  async add(item: Item): Promise<void> {
    this.check();
    this.records.put(item);
  }

  async settled(): Promise<void> {}

  async version(): Promise<number> {
    this.check();
    return this.records.version();
  }

  async snapshot(): Promise<Snapshot<Item>> {
    this.check();
    this.snapshots += 1;
    return this.records.snapshot();
  }

  async removeExpired(ids: readonly string[], now: number): Promise<void> {
    this.check();
    this.removeExpiredCalls += 1;
    this.records.deleteExpired(ids, now);
  }

  subscribe(listener: (change: Change<Item>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnect.add(listener);
    return () => this.reconnect.delete(listener);
  }

  comeBack(): void {
    this.away = false;
    for (const listener of this.reconnect) listener();
  }

  private follow(): void {
    this.records.subscribe((change) => {
      if (this.away) return;
      if (this.dropNext > 0) {
        this.dropNext -= 1;
        return;
      }
      for (const listener of this.listeners) listener(change);
    });
  }

  private check(): void {
    if (this.bug !== undefined) throw this.bug;
    if (this.away) throw new StoreUnavailableError('test outage');
  }
}

class MapMirror implements Mirror<Item> {
  readonly items = new Map<string, Item>();
  apply(item: Item): void {
    this.items.set(item.id, item);
  }
  remove(id: string): boolean {
    return this.items.delete(id);
  }
  replaceAll(items: Iterable<Item>): void {
    this.items.clear();
    for (const item of items) this.apply(item);
  }
  expire(now: number): string[] {
    const gone = [...this.items.values()].filter((i) => i.expiresAt !== undefined && i.expiresAt <= now);
    for (const item of gone) this.items.delete(item.id);
    return gone.map((i) => i.id);
  }
  values(): string[] {
    return [...this.items.values()].map((i) => i.value).sort();
  }
}

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n'))
      if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
  events(): unknown[] {
    return this.lines.map((l) => l.event);
  }
}

/** A write policy like the blocks': mirror first, what the store has not taken is owed. */
function harness() {
  const clock = new TestClock('2026-12-01T00:00:00Z');
  const store = new TestStore();
  const mirror = new MapMirror();
  const log = new Lines();
  const owed = new Map<string, Item>();
  const policy: SyncPolicy<Item> = {
    flushPending: () =>
      sendOwed(
        owed.values(),
        (item) => store.add(item),
        (item) => owed.delete(item.id),
      ),
    reinstate: async () => [...owed.values()],
  };
  const sync = new MirrorSync(store, mirror, policy, {
    family: 'item',
    awayMessage: 'item store unavailable',
    logger: createLogger('info', log),
    clock: clock.now,
    resyncMs: 60_000,
  });
  /** This instance decides something: it holds here at once and is owed to the store. */
  const decide = (item: Item) => {
    mirror.apply(item);
    owed.set(item.id, item);
  };
  return { clock, store, mirror, log, owed, sync, decide };
}

/** Lets the syncs that messages asked for run to the end. */
async function settle(sync: MirrorSync<Item>): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await sync.sync();
  }
}

describe('versioned change messages', () => {
  test('changes seen in order need no reload: a resync only compares the version', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    assert.equal(store.snapshots, 1, 'the first sync loads the family');
    store.put({ id: 'a', value: 'A' });
    store.put({ id: 'b', value: 'B' });
    store.delete('a');
    assert.deepEqual(mirror.values(), ['B']);
    await sync.sync();
    assert.equal(store.snapshots, 1, 'no reload: the messages showed every version');
    assert.equal(sync.version, 3);
    await sync.stop();
  });

  test('a missed message leaves a version gap, and the gap brings a reload', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    store.put({ id: 'a', value: 'A' });
    store.dropNext = 1;
    store.put({ id: 'lost', value: 'LOST' });
    assert.deepEqual(mirror.values(), ['A'], 'the lost message never arrived');
    store.put({ id: 'c', value: 'C' }); // version 3 after 1: a gap
    await settle(sync);
    assert.equal(store.snapshots, 2, 'reloaded once');
    assert.deepEqual(mirror.values(), ['A', 'C', 'LOST']);
    assert.equal(sync.version, 3);
    await sync.stop();
  });

  test('a lost last message is found by the periodic version check', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    store.dropNext = 1;
    store.put({ id: 'lost', value: 'LOST' });
    assert.deepEqual(mirror.values(), []);
    await sync.sync();
    assert.deepEqual(mirror.values(), ['LOST']);
    assert.equal(store.snapshots, 2);
    await sync.stop();
  });

  test('a store that restarted empty (its version went back) is reloaded, and what was owed written back', async () => {
    const { store, mirror, sync, decide } = harness();
    await sync.start();
    store.put({ id: 'a', value: 'A' });
    store.put({ id: 'b', value: 'B' });
    assert.equal(sync.version, 2);
    store.reset();
    decide({ id: 'mine', value: 'MINE' });
    await sync.sync(); // the periodic check, or the one a reconnection asks for
    assert.deepEqual(mirror.values(), ['MINE'], 'a and b went with the store');
    assert.deepEqual(
      store.records.values().map((i) => i.id),
      ['mine'],
    );
    await sync.stop();
  });

  test('messages published while a reload reads the store are applied after it, once', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    store.dropNext = 1;
    store.put({ id: 'lost', value: 'LOST' }); // forces the next sync to reload
    const snapshot = store.snapshot.bind(store);
    store.snapshot = async () => {
      const taken = await snapshot();
      store.put({ id: 'during', value: 'DURING' }); // after the snapshot was read, before it lands
      return taken;
    };
    await sync.sync();
    store.snapshot = snapshot;
    assert.deepEqual(mirror.values(), ['DURING', 'LOST']);
    assert.equal(sync.version, 2);
    await settle(sync);
    assert.equal(store.snapshots, 2, 'one reload, not one per message that raced it');
    await sync.stop();
  });
});

describe('outages', () => {
  test('a reconnect resyncs: what changed while the store was away reaches the mirror', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    store.put({ id: 'a', value: 'A' });
    store.away = true;
    await sync.sync(); // fails quietly: an outage is a state, not an error
    // Another instance writes while this one cannot hear it (its messages are lost).
    store.records.put({ id: 'meanwhile', value: 'MEANWHILE' });
    store.records.delete('a');
    assert.deepEqual(mirror.values(), ['A']);
    store.comeBack();
    await settle(sync);
    assert.deepEqual(mirror.values(), ['MEANWHILE']);
    await sync.stop();
  });

  test('pending writes are retried at each sync until the store takes them', async () => {
    const { store, mirror, sync, owed, decide } = harness();
    await sync.start();
    store.away = true;
    decide({ id: 'blocked', value: 'BLOCKED' });
    await sync.sync();
    await sync.sync();
    assert.equal(owed.size, 1, 'still owed while the store is away');
    assert.deepEqual(mirror.values(), ['BLOCKED'], 'and in force here meanwhile');
    store.comeBack();
    await settle(sync);
    assert.equal(owed.size, 0);
    assert.deepEqual(
      store.records.values().map((i) => i.id),
      ['blocked'],
    );
    await sync.stop();
  });

  test('staleness counts from the last successful exchange, in milliseconds of the injected clock', async () => {
    const { clock, store, sync, log } = harness();
    await sync.start();
    assert.equal(sync.staleSeconds(), 0);
    clock.advance(1500);
    store.put({ id: 'a', value: 'A' }); // a message in order is an exchange too
    store.away = true;
    await sync.sync();
    clock.advance(2500);
    assert.equal(sync.staleSeconds(), 2.5);
    await sync.sync();
    clock.advance(500);
    assert.equal(sync.staleSeconds(), 3);
    assert.equal(log.events().filter((e) => e === 'item.sync_failed').length, 1, 'one warning per outage');
    store.comeBack();
    await settle(sync);
    assert.equal(sync.staleSeconds(), 0);
    assert.ok(log.events().includes('item.sync_resumed'));
    await sync.stop();
  });
});

describe('expiry', () => {
  test('expired records leave the mirror and the store together, in one call', async () => {
    const { clock, store, mirror, sync } = harness();
    await sync.start();
    const soon = clock.now() + 1000;
    for (const id of ['x', 'y', 'z']) store.put({ id, value: id.toUpperCase(), expiresAt: soon });
    store.put({ id: 'kept', value: 'KEPT' });
    clock.advance(1000);
    await sync.sync();
    assert.deepEqual(mirror.values(), ['KEPT']);
    assert.equal(store.removeExpiredCalls, 1);
    assert.deepEqual(
      store.records.values().map((i) => i.id),
      ['kept'],
    );
    await settle(sync);
    assert.equal(store.snapshots, 1, 'the removals were announced with their versions: no reload');
    await sync.stop();
  });
});

describe('one error policy', () => {
  test('an error that is not an outage surfaces: thrown, logged as an error, never as "unavailable"', async () => {
    const { store, sync, log } = harness();
    await sync.start();
    store.bug = new TypeError("Cannot read properties of undefined (reading 'version')");
    await assert.rejects(sync.sync(), TypeError);
    const line = log.lines.find((l) => l.event === 'item.sync_error');
    assert.equal(line?.level, 50);
    assert.ok(!log.events().includes('item.sync_failed'), 'not taken for an outage');
    assert.ok(sync.staleSeconds() >= 0);
    await sync.stop();
  });

  test('a write that fails with a bug is dropped, not retried at every sync as if the store were away', async () => {
    const { store, sync, owed, decide, log } = harness();
    await sync.start();
    let attempts = 0;
    store.add = async () => {
      attempts += 1;
      throw new RangeError('bad record');
    };
    decide({ id: 'broken', value: 'BROKEN' });
    await assert.rejects(sync.sync(), RangeError);
    await sync.sync();
    await sync.sync();
    assert.equal(attempts, 1);
    assert.equal(owed.size, 0);
    assert.equal(log.events().filter((e) => e === 'item.sync_error').length, 1);
    await sync.stop();
  });
});

describe('store-first writes (applyStored)', () => {
  test('a stored change holds at once when its message has not come yet; the version waits for it', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    store.dropNext = 1; // the subscriber is behind: this write's message is not here (lost, even)
    const version = store.records.put({ id: 'mine', value: 'MINE' });
    sync.applyStored({ op: 'add', record: { id: 'mine', value: 'MINE' }, version });
    assert.deepEqual(mirror.values(), ['MINE'], 'the writer reads its own write');
    assert.equal(sync.version, 0, 'only a message moves the version');
    await settle(sync);
    assert.equal(store.snapshots, 2, 'the message never came: the version check found the gap');
    assert.equal(sync.version, 1);
    await sync.stop();
  });

  test('a stored change older than what the messages showed is not applied again', async () => {
    const { store, mirror, sync } = harness();
    await sync.start();
    const version = store.records.put({ id: 'x', value: 'X' });
    store.delete('x'); // another instance lifted it; both messages came before our reply
    sync.applyStored({ op: 'add', record: { id: 'x', value: 'X' }, version });
    assert.deepEqual(mirror.values(), [], 'the later removal stands');
    await sync.sync();
    assert.equal(store.snapshots, 1);
    await sync.stop();
  });
});
