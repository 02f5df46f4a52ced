// Blocks on the one sync protocol: a change from another instance arrives with its version, so
// the next resync reloads nothing; and a failure that is not an outage is said as a bug once,
// never as "block store unavailable" and retried for ever.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import { type BlockRecord, blockId } from '../../../src/protection/block-record.js';
import { BlockService } from '../../../src/protection/block-service.js';
import { MemoryBlockStore } from '../../../src/protection/memory-block-store.js';
import { TestClock } from '../../helpers/clock.js';

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n'))
      if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

const clock = new TestClock('2026-12-01T00:00:00Z');

function block(address: string, seconds = 900): BlockRecord {
  return {
    id: blockId('address', address),
    target: 'address',
    value: address,
    rule: 'failure_burst',
    reason: 'blocked_source',
    at: new Date(clock.now()).toISOString(),
    expiresAt: clock.now() + seconds * 1000,
    by: 'test:1',
    evidence: {},
  };
}

/** Counts the calls that read every block from the store (a reload), whatever they are called. */
function countReloads(store: MemoryBlockStore): { readonly count: number } {
  const counter = { count: 0 };
  const methods = store as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  for (const name of ['list', 'snapshot']) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = (...args: unknown[]) => {
      counter.count += 1;
      return original.apply(store, args);
    };
  }
  return counter;
}

function service(store: MemoryBlockStore, log = new Lines()) {
  return new BlockService({ store, logger: createLogger('info', log), clock: clock.now, resyncMs: 60_000 });
}

test('a block decided by one instance reaches the other with its version: its next resync reloads nothing', async () => {
  const store = new MemoryBlockStore();
  const a = service(store);
  const b = service(store);
  await a.start();
  await b.start();
  const reloads = countReloads(store);
  a.block(block('203.0.113.7'));
  a.block(block('203.0.113.8'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(b.mirror.address('203.0.113.7', clock.now()), 'B refuses the address at once');
  await b.sync();
  await a.sync();
  assert.equal(reloads.count, 0, 'neither instance read every block again');
  assert.equal(b.list().length, 2);
  await a.stop();
  await b.stop();
});

test('a block write that fails with a bug is logged as an error once, not as "block store unavailable", and not retried', async () => {
  const store = new MemoryBlockStore();
  const log = new Lines();
  const blocks = service(store, log);
  await blocks.start();
  let attempts = 0;
  store.add = async () => {
    attempts += 1;
    throw new TypeError("Cannot read properties of undefined (reading 'expiresAt')");
  };
  assert.equal(blocks.block(block('198.51.100.9')), true);
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 3; i++) await blocks.sync().catch(() => {});
  assert.equal(attempts, 1, 'the failed write is not sent again at every sync');
  assert.ok(blocks.mirror.address('198.51.100.9', clock.now()), 'the block still holds on this instance');
  assert.ok(
    !log.lines.some((l) => /block store unavailable/.test(String(l.msg))),
    'a bug is not reported as an outage',
  );
  const errors = log.lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 1, JSON.stringify(log.lines));
  await blocks.stop();
});

test('a resync that fails with a bug surfaces as an error, not as an outage', async () => {
  const store = new MemoryBlockStore();
  const log = new Lines();
  const blocks = service(store, log);
  await blocks.start();
  store.version = async () => {
    throw new RangeError('version out of range');
  };
  await assert.rejects(blocks.sync(), RangeError);
  assert.ok(!log.lines.some((l) => /block store unavailable/.test(String(l.msg))));
  assert.equal(log.lines.filter((l) => l.level === 50).length, 1);
  store.version = async () => 0;
  await blocks.stop();
});
