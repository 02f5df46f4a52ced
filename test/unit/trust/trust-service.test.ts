import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompiledIssuer } from '../../../src/keys/issuer-registry.js';
import type { KeyScreening } from '../../../src/keys/screen-new-keys.js';
import { type TrustRecord, trustRecordId } from '../../../src/keys/trust-record.js';
import { createLogger } from '../../../src/observability/logger.js';
import { StoreUnavailableError } from '../../../src/store/store-unavailable-error.js';
import { MemoryTrustStore } from '../../../src/trust/memory-trust-store.js';
import { TrustService } from '../../../src/trust/trust-service.js';
import type { TrustWriteMode } from '../../../src/trust/trust-store.js';
import { TestClock } from '../../helpers/clock.js';
import { compiledIssuer } from '../../helpers/compiled-issuer.js';
import { LogCapture } from '../../helpers/gateway-fixture.js';
import { waitFor } from '../../helpers/poll.js';

const T = (n: number) => String.fromCharCode(65 + n).repeat(43);

/** A memory store that can be made to act as a Redis that is away. */
class FlakyStore extends MemoryTrustStore {
  away = false;
  override async put(record: TrustRecord, mode: TrustWriteMode) {
    if (this.away) throw new StoreUnavailableError('redis: connection closed');
    return super.put(record, mode);
  }
  override async version() {
    if (this.away) throw new StoreUnavailableError('redis: connection closed');
    return super.version();
  }
}

function sighting(kid: string, n: number, since: number): TrustRecord {
  return {
    id: trustRecordId('enterprise', T(n)),
    issuer: 'enterprise',
    kid,
    thumbprint: T(n),
    state: 'quarantined',
    since,
    at: new Date(since).toISOString(),
    by: 'refresh',
  };
}

const screening = (over: Partial<KeyScreening>): KeyScreening => ({
  keys: [],
  appeared: [],
  trustedOnFirstLoad: [],
  overflow: [],
  unpublished: [],
  ...over,
});

function service(store: MemoryTrustStore, clock: TestClock, issuers: CompiledIssuer[] = []) {
  const logs = new LogCapture();
  const trust = new TrustService({
    store,
    logger: createLogger('info', logs),
    clock: clock.now,
    resyncMs: 60_000,
    issuers: () => issuers,
    soakCheckMs: 5,
  });
  return { trust, logs };
}

describe('TrustService', () => {
  test('a sighting holds at once, reaches the store, and is announced once', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new MemoryTrustStore();
    const { trust, logs } = service(store, clock);
    await trust.start();
    trust.record('enterprise', screening({ appeared: [sighting('k1', 1, clock.now())] }));
    assert.equal(trust.index.get('enterprise', T(1))?.state, 'quarantined');
    await waitFor(async () => (await store.snapshot()).records.length === 1, {
      message: 'the sighting stored',
    });
    const appeared = logs.lines.filter((l) => l.event === 'key.appeared');
    assert.equal(appeared.length, 1);
    assert.equal(appeared[0]!.kid, 'k1');
    assert.equal(appeared[0]!.thumbprint, T(1));
    await trust.stop();
  });

  test('the earliest sighting wins: a later one of the same key does not restart its soak', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new MemoryTrustStore();
    await store.put(sighting('k1', 1, clock.now() - 60_000), 'if-absent');
    const { trust } = service(store, clock);
    await trust.start();
    trust.record('enterprise', screening({ appeared: [sighting('k1', 1, clock.now())] }));
    await trust.sync();
    assert.equal(trust.index.get('enterprise', T(1))?.since, clock.now() - 60_000);
    await trust.stop();
  });

  test('a decision is store-first: with the store away it is refused and changes nothing', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new FlakyStore();
    const { trust, logs } = service(store, clock);
    await trust.start();
    trust.record('enterprise', screening({ appeared: [sighting('k1', 1, clock.now())] }));
    await trust.sync();
    store.away = true;
    await assert.rejects(
      trust.decide('enterprise', 'k1', T(1), 'trusted', { by: 'alice' }),
      StoreUnavailableError,
    );
    assert.equal(trust.index.get('enterprise', T(1))?.state, 'quarantined');
    store.away = false;
    const { record, previous } = await trust.decide('enterprise', 'k1', T(1), 'trusted', { by: 'alice' });
    assert.equal(record.state, 'trusted');
    assert.equal(previous?.state, 'quarantined');
    assert.equal(trust.index.get('enterprise', T(1))?.state, 'trusted');
    assert.equal(logs.lines.filter((l) => l.event === 'key.trusted' && l.by === 'alice').length, 1);
    const audit = await trust.audit();
    assert.deepEqual(
      audit.map((e) => [e.op, e.by, e.record?.state]),
      [
        ['put', 'refresh', 'quarantined'],
        ['put', 'alice', 'trusted'],
      ],
    );
    await trust.stop();
  });

  test('sightings made while the store is away are sent when it answers', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new FlakyStore();
    const { trust } = service(store, clock);
    await trust.start();
    store.away = true;
    trust.record('enterprise', screening({ appeared: [sighting('k1', 1, clock.now())] }));
    await trust.sync();
    assert.equal((await store.snapshot()).records.length, 0);
    assert.equal(trust.index.get('enterprise', T(1))?.state, 'quarantined', 'held here meanwhile');
    store.away = false;
    await trust.sync();
    assert.equal((await store.snapshot()).records.length, 1);
    await trust.stop();
  });

  test('a soak that passed is stored as a trust by soak, once', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const store = new MemoryTrustStore();
    const issuer = compiledIssuer({
      trust: {
        quarantineNewKeys: true,
        quarantineMs: 10_000,
        trustOnFirstLoad: true,
        maxQuarantined: 100,
        pin: undefined,
      },
    });
    const { trust, logs } = service(store, clock, [issuer]);
    await trust.start();
    trust.record('enterprise', screening({ appeared: [sighting('k1', 1, clock.now())] }));
    clock.advance(9_999);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(trust.index.get('enterprise', T(1))?.state, 'quarantined');
    clock.advance(1);
    await waitFor(() => trust.index.get('enterprise', T(1))?.state === 'trusted', { message: 'the soak' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const soaked = logs.lines.filter((l) => l.event === 'key.trusted' && l.by === 'soak');
    assert.equal(soaked.length, 1);
    await trust.stop();
  });

  test('a flood past maxQuarantined is one summary event, said again only when it changes', async () => {
    const clock = new TestClock('2026-12-01T00:00:00Z');
    const { trust, logs } = service(new MemoryTrustStore(), clock);
    await trust.start();
    const overflow = [
      { kid: 'x1', thumbprint: T(5) },
      { kid: 'x2', thumbprint: T(6) },
    ] as never;
    trust.record('enterprise', screening({ overflow }));
    trust.record('enterprise', screening({ overflow }));
    assert.equal(logs.lines.filter((l) => l.event === 'keys.quarantine_full').length, 1);
    trust.record('enterprise', screening({ overflow: [{ kid: 'x3', thumbprint: T(7) }] as never }));
    const summaries = logs.lines.filter((l) => l.event === 'keys.quarantine_full');
    assert.equal(summaries.length, 2);
    assert.equal(summaries[1]!.refused, 1);
    await trust.stop();
  });
});
