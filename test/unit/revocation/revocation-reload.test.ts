import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema, type RevocationsConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/observability/logger.js';
import { MemoryRevocationStore } from '../../../src/revocation/memory-store.js';
import { makeRecord } from '../../../src/revocation/revocation-record.js';
import { RevocationService } from '../../../src/revocation/revocation-service.js';

const revocationsOf = (section: Record<string, unknown>): RevocationsConfig =>
  configSchema.shape.revocations.parse(section);

async function service(store = new MemoryRevocationStore()) {
  const revocations = new RevocationService({
    store,
    storeConfig: configSchema.shape.store.parse({}),
    logger: createLogger('silent'),
    clock: Date.now,
    clockSkewSeconds: 60,
  });
  await revocations.start(revocationsOf({ keys: [{ issuer: 'consumer', kid: 'msa-2016' }] }));
  return { revocations, store };
}

test('a reloaded revocations section adds what is new and lifts what the file dropped, in the store too', async () => {
  const { revocations, store } = await service();
  assert.ok(revocations.mirror.isKeyRevoked('consumer', 'msa-2016'));
  const result = await revocations.applyConfig(
    revocationsOf({ subjects: [{ issuer: 'enterprise', sub: 'mallory', before: '2999-01-01T00:00:00Z' }] }),
    60,
  );
  assert.deepEqual(result, { added: 1, removed: 1 });
  assert.ok(!revocations.mirror.isKeyRevoked('consumer', 'msa-2016'));
  assert.ok(revocations.mirror.subjectRevokedBefore('enterprise', 'mallory') !== undefined);
  assert.deepEqual(
    (await store.list()).map((r) => r.kind),
    ['subject'],
  );
  const removal = (await store.audit()).find((e) => e.op === 'remove');
  assert.equal(removal?.by, 'config');
  await revocations.stop();
});

test('the same revocation made through the API is not lifted by a file that drops it', async () => {
  const store = new MemoryRevocationStore();
  const spec = { kind: 'key' as const, issuer: 'consumer', kid: 'msa-2016' };
  await store.add(
    makeRecord(spec, { by: 'admin-api', source: 'api', now: Date.now(), clockSkewSeconds: 60 }),
  );
  const { revocations } = await service(store);
  const result = await revocations.applyConfig(revocationsOf({}), 60);
  assert.deepEqual(result, { added: 0, removed: 0 });
  assert.ok(revocations.mirror.isKeyRevoked('consumer', 'msa-2016'));
  assert.equal((await store.list()).length, 1);
  await revocations.stop();
});
