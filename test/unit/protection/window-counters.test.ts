import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RecentMap } from '../../../src/protection/recent-map.js';
import type { CountDelta, SharedTallies } from '../../../src/protection/shared-tallies.js';
import { WindowCounters } from '../../../src/protection/window-counters.js';

/** What Redis does with counters (INCRBY), in memory, shared by several "instances". */
class FakeTallies implements SharedTallies {
  readonly totals = new Map<string, number>();
  failNext = false;
  async addCounts(batch: readonly CountDelta[]): Promise<number[]> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('store away');
    }
    return batch.map((d) => {
      const total = (this.totals.get(d.key) ?? 0) + d.delta;
      this.totals.set(d.key, total);
      return total;
    });
  }
  async addSightings(): Promise<never[]> {
    return [];
  }
}

const MINUTE = 60_000;
const T0 = 1_000 * MINUTE; // the start of a window

describe('WindowCounters', () => {
  test('counts per key within a fixed window and starts over in the next', () => {
    const counters = new WindowCounters('rl:x', MINUTE, undefined);
    const c = counters.at('alice', T0 + 5_000);
    counters.add(c);
    counters.add(c);
    assert.equal(counters.at('alice', T0 + 59_999).count(), 2);
    assert.equal(counters.at('bob', T0 + 10).count(), 0);
    assert.equal(counters.msLeft(c, T0 + 45_000), 15_000);
    assert.equal(counters.at('alice', T0 + MINUTE).count(), 0);
  });

  test('two instances see each other after their batches', async () => {
    const store = new FakeTallies();
    const a = new WindowCounters('rl:x', MINUTE, store);
    const b = new WindowCounters('rl:x', MINUTE, store);
    const ca = a.at('k', T0);
    const cb = b.at('k', T0);
    for (let i = 0; i < 3; i++) a.add(ca);
    for (let i = 0; i < 4; i++) b.add(cb);
    assert.equal(ca.count(), 3, 'before any batch, only its own');
    await a.flush();
    await b.flush();
    assert.equal(cb.count(), 7, 'B sent after A: it has both');
    assert.equal(ca.count(), 3, 'A has not heard from B yet');
    a.add(ca);
    await a.flush();
    assert.equal(ca.count(), 8);
    assert.deepEqual([...store.totals], [[`c:rl:x:${T0 / MINUTE}:k`, 8]]);
  });

  test('a failed batch loses nothing: the counts go with the next one', async () => {
    const store = new FakeTallies();
    const a = new WindowCounters('fb', MINUTE, store);
    const c = a.at('10.0.0.1', T0);
    a.add(c, 5);
    store.failNext = true;
    await a.flush();
    assert.equal(c.count(), 5);
    assert.equal(store.totals.size, 0);
    await a.flush();
    assert.equal(c.count(), 5);
    assert.equal(store.totals.get(`c:fb:${T0 / MINUTE}:10.0.0.1`), 5);
  });

  test('counts not yet sent when the window ends are sent to the old window', async () => {
    const store = new FakeTallies();
    const a = new WindowCounters('rl:x', MINUTE, store);
    a.add(a.at('k', T0 + 59_000), 2);
    a.add(a.at('k', T0 + MINUTE), 1);
    await a.flush();
    assert.equal(store.totals.get(`c:rl:x:${T0 / MINUTE}:k`), 2);
    assert.equal(store.totals.get(`c:rl:x:${T0 / MINUTE + 1}:k`), 1);
  });

  test('every counter whose total came back is handed to onShared', async () => {
    const store = new FakeTallies();
    const seen: number[] = [];
    const a = new WindowCounters('fb', MINUTE, store, (c) => seen.push(c.count()));
    const b = new WindowCounters('fb', MINUTE, store);
    b.add(b.at('ip', T0), 4);
    await b.flush();
    a.add(a.at('ip', T0), 1);
    await a.flush();
    assert.deepEqual(seen, [5]);
  });
});

describe('RecentMap', () => {
  test('stays bounded, and keeps what is in use', () => {
    const map = new RecentMap<string, number>(10);
    for (let i = 0; i < 5; i++) map.set(`k${i}`, i);
    for (let i = 5; i < 100; i++) {
      map.set(`k${i}`, i);
      assert.equal(map.get('k0'), 0, 'used all along, never dropped');
      assert.ok(map.size <= 10);
    }
    assert.equal(map.get('k50'), undefined, 'unused, long gone');
    assert.equal(map.get('k99'), 99);
    assert.equal(map.peek('k98'), 98);
  });
});
