// The signal family on the one mirroring mechanism, two "instances" on one memory store (which
// announces every write to every subscriber, as Redis pub/sub does) and a fake clock: a block or
// a stream state written on one reaches the other through its versioned change message, a resync
// compares the version only, a missed message is found by its gap, and writes are store-first.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import type { CompiledTransmitter } from '../../../src/signals/compile-signals.js';
import { MemorySignalStore } from '../../../src/signals/memory-signal-store.js';
import { SignalState } from '../../../src/signals/signal-state.js';
import type { SignalBlock, SignalRecord } from '../../../src/signals/signal-store.js';
import type { Change } from '../../../src/store/change-message.js';
import { StoreUnavailableError } from '../../../src/store/store-unavailable-error.js';
import { TestClock } from '../../helpers/clock.js';

const transmitters = [
  {
    name: 'idp',
    governs: ['enterprise', 'partner'],
    onStreamDown: 'fail-closed',
    maxTokenAgeSeconds: 600,
  },
  { name: 'lax', governs: ['enterprise'], onStreamDown: 'serve', maxTokenAgeSeconds: undefined },
  { name: 'strict', governs: ['enterprise'], onStreamDown: 'fail-closed', maxTokenAgeSeconds: 60 },
] as unknown as CompiledTransmitter[];

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n'))
      if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

/** One memory store that counts its full reads and can lose the next message to every instance. */
function cluster() {
  const clock = new TestClock('2026-12-01T00:00:00Z');
  const store = new MemorySignalStore(clock.now);
  const counts = { snapshots: 0, dropNext: 0 };
  const snapshot = store.snapshot.bind(store);
  store.snapshot = () => {
    counts.snapshots += 1;
    return snapshot();
  };
  const subscribe = store.subscribe.bind(store);
  store.subscribe = (listener: (change: Change<SignalRecord>) => void) =>
    subscribe((change) => {
      if (counts.dropNext > 0) counts.dropNext -= 1;
      else listener(change);
    });
  const log = new Lines();
  const instance = () =>
    new SignalState({
      store,
      transmitters,
      logger: createLogger('info', log),
      clock: clock.now,
      resyncMs: 60_000,
    });
  return { store, counts, log, a: instance(), b: instance() };
}

function block(sub: string, value = 'HIGH'): SignalBlock {
  return {
    id: `sig-${sub}`,
    transmitter: 'idp',
    issuerId: 'enterprise',
    sub,
    signal: 'risk-level-change',
    value,
    at: 1_780_000_000,
    jti: `jti-${sub}-${value}`,
  };
}

async function settle(...states: SignalState[]): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    for (const state of states) await state.sync();
  }
}

describe('signal blocks', () => {
  test('a block made on one instance reaches the other by its message: no reload, a resync compares the version', async () => {
    const { a, b, counts } = cluster();
    await Promise.all([a.start(), b.start()]);
    const loads = counts.snapshots;
    await a.putBlock(block('alice'));
    assert.deepEqual(
      b.mirror.blocksOf('enterprise', 'alice')?.map((x) => x.id),
      ['sig-alice'],
    );
    assert.equal(b.mirror.hasBlocks, true);
    await a.putBlock(block('alice', 'MEDIUM')); // the subject's later signal replaces it
    assert.deepEqual(
      b.mirror.blocksOf('enterprise', 'alice')?.map((x) => x.value),
      ['MEDIUM'],
    );
    assert.equal(await b.removeBlock('sig-alice'), true);
    assert.equal(a.mirror.blocksOf('enterprise', 'alice'), undefined);
    assert.equal(a.mirror.hasBlocks, false);
    assert.equal(await a.removeBlock('sig-alice'), false, 'already lifted');
    await settle(a, b);
    assert.equal(counts.snapshots, loads, 'no instance read the family again');
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a lost message leaves a version gap; the next change brings one reload', async () => {
    const { a, b, counts } = cluster();
    await Promise.all([a.start(), b.start()]);
    const loads = counts.snapshots;
    counts.dropNext = 2; // both instances miss it
    await a.putBlock(block('bob'));
    assert.ok(a.mirror.block('sig-bob') !== undefined, 'store-first: the writer holds what it stored');
    assert.equal(b.mirror.block('sig-bob'), undefined, 'the message never reached B');
    await a.putBlock(block('carol'));
    await settle(a, b);
    assert.ok(b.mirror.block('sig-bob') !== undefined, 'B reloaded');
    assert.ok(b.mirror.block('sig-carol') !== undefined);
    assert.equal(counts.snapshots, loads + 2, 'one reload per instance');
    await Promise.all([a.stop(), b.stop()]);
  });

  test('store-first: a write the store refuses changes no mirror and rejects as unavailable', async () => {
    const { a, b, store } = cluster();
    await Promise.all([a.start(), b.start()]);
    store.putBlock = () => Promise.reject(new StoreUnavailableError('test outage'));
    await assert.rejects(a.putBlock(block('dave')), StoreUnavailableError);
    assert.equal(a.mirror.hasBlocks, false);
    assert.equal(b.mirror.hasBlocks, false);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('transmitter states', () => {
  test('a stream down reaches every instance: the shortest fail-closed age per governed issuer', async () => {
    const { a, b } = cluster();
    await Promise.all([a.start(), b.start()]);
    await a.patchTransmitter('lax', { stream: 'paused' });
    assert.equal(b.mirror.hasDownStreams, false, 'serve: nothing is refused');
    await a.patchTransmitter('idp', { stream: 'disabled', streamReason: null });
    assert.equal(b.mirror.downCapOf('enterprise'), 600);
    assert.equal(b.mirror.downCapOf('partner'), 600);
    await b.patchTransmitter('strict', { stream: 'paused' });
    assert.equal(a.mirror.downCapOf('enterprise'), 60);
    assert.equal(a.mirror.downCapOf('partner'), 600);
    await a.patchTransmitter('idp', { stream: 'enabled' });
    await a.patchTransmitter('strict', { stream: 'enabled' });
    assert.equal(b.mirror.hasDownStreams, false);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('patches merge: bookkeeping from one instance keeps the stream state another wrote', async () => {
    const { a, b } = cluster();
    await Promise.all([a.start(), b.start()]);
    await a.patchTransmitter('idp', { stream: 'paused', streamSince: '2026-12-01T00:00:00.000Z' });
    await b.patchTransmitter('idp', { lastEvent: 'verification', lastJti: 'j1' });
    assert.deepEqual(a.mirror.transmitter('idp'), {
      stream: 'paused',
      streamSince: '2026-12-01T00:00:00.000Z',
      lastEvent: 'verification',
      lastJti: 'j1',
    });
    assert.deepEqual(b.mirror.transmitter('idp'), a.mirror.transmitter('idp'));
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('verification states (memory store)', () => {
  test('a state asked for counts once, for its transmitter only, and not after it expired', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new MemorySignalStore(clock.now);
    await store.expectVerification('idp', 'state-1', 60_000);
    assert.equal(await store.consumeVerification('lax', 'state-1'), false, 'another transmitter');
    assert.equal(await store.consumeVerification('idp', 'state-2'), false, 'another state');
    assert.equal(await store.consumeVerification('idp', 'state-1'), true);
    assert.equal(await store.consumeVerification('idp', 'state-1'), false, 'used up');
    await store.expectVerification('idp', 'state-3', 60_000);
    clock.advance(60_001);
    assert.equal(await store.consumeVerification('idp', 'state-3'), false, 'expired');
  });
});
