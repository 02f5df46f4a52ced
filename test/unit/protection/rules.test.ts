import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { CompiledRoute } from '../../../src/config/compile-routes.js';
import { createLogger } from '../../../src/observability/logger.js';
import { AnomalyActions } from '../../../src/protection/anomaly-actions.js';
import { BlockMirror } from '../../../src/protection/block-mirror.js';
import { type BlockRecord, blockId } from '../../../src/protection/block-record.js';
import { BlockService } from '../../../src/protection/block-service.js';
import { MemoryBlockStore } from '../../../src/protection/memory-block-store.js';
import { TokenReplay } from '../../../src/protection/token-replay.js';
import { VolumeSpike } from '../../../src/protection/volume-spike.js';
import { AuthFailure } from '../../../src/verify/auth-failure.js';
import type { VerifiedToken } from '../../../src/verify/verify-token.js';

const MINUTE = 60_000;
const T0 = 29_000_000 * MINUTE;

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString().split('\n'))
      if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

function harness() {
  let now = T0;
  const clock = () => now;
  const log = new Lines();
  const logger = createLogger('info', log);
  const blocks = new BlockService({ store: new MemoryBlockStore(), logger, clock, resyncMs: 60_000 });
  const actions = new AnomalyActions(blocks, logger, 'test:1');
  return {
    clock,
    blocks,
    actions,
    log,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function token(sub: string, fingerprint: string): VerifiedToken {
  return {
    issuer: { id: 'enterprise', iss: 'https://login.example.test/enterprise/v2.0', clockSkewSeconds: 60 },
    key: { kid: 'ent-2024' },
    alg: 'RS256',
    claims: { sub, exp: T0 / 1000 + 3600, jti: `jti-${fingerprint}` },
    scopes: new Set(),
    fingerprint,
  } as unknown as VerifiedToken;
}

const mail = { name: 'mail' } as CompiledRoute;
const reasonOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof AuthFailure) return err.reason;
    throw err;
  }
};

describe('volume_spike baseline', () => {
  const spec = { factor: 2, floorPerMinute: 5, halfLifeSeconds: 600, routes: undefined, blockSeconds: 300 };

  test('a steady user is never flagged, and a burst is judged against that user’s own baseline', () => {
    const h = harness();
    const rule = new VolumeSpike({ ...spec, mode: 'monitor' }, h.actions);
    const t = token('steady', 'fp-steady');
    for (let minute = 0; minute < 60; minute++) {
      for (let i = 0; i < 8; i++) rule.observe(t, mail, '10.0.0.1', h.clock());
      h.advance(MINUTE);
    }
    assert.equal(h.log.lines.filter((l) => l.event === 'anomaly').length, 0, '8 a minute for an hour');
    // Baseline ≈ 8 × (1 − 2^−6) ≈ 7.9 after an hour with a 10-minute half-life: threshold ≈ 15.75.
    for (let i = 0; i < 15; i++) rule.observe(t, mail, '10.0.0.1', h.clock());
    assert.equal(h.log.lines.filter((l) => l.event === 'anomaly').length, 0);
    rule.observe(t, mail, '10.0.0.1', h.clock());
    const [event] = h.log.lines.filter((l) => l.event === 'anomaly');
    assert.equal(event!.rule, 'volume_spike');
    assert.equal(event!.action, 'flagged');
    const counts = event!.counts as Record<string, number>;
    assert.equal(counts.requestsThisMinute, 16);
    assert.ok(
      counts.baselinePerMinute! > 7.8 && counts.baselinePerMinute! < 8,
      String(counts.baselinePerMinute),
    );
  });

  test('idle minutes decay the baseline back to the floor', () => {
    const h = harness();
    const rule = new VolumeSpike({ ...spec, mode: 'enforce' }, h.actions);
    const t = token('burst', 'fp-burst');
    for (let minute = 0; minute < 30; minute++) {
      for (let i = 0; i < 9; i++) rule.observe(t, mail, '10.0.0.1', h.clock());
      h.advance(MINUTE);
    }
    h.advance(120 * MINUTE); // two idle hours: 12 half-lives
    for (let i = 0; i < 10; i++)
      assert.equal(
        reasonOf(() => rule.observe(t, mail, '10.0.0.1', h.clock())),
        undefined,
      );
    assert.equal(
      reasonOf(() => rule.observe(t, mail, '10.0.0.1', h.clock())),
      'subject_blocked',
    );
    const [block] = h.blocks.list();
    assert.equal(block!.target, 'subject');
    assert.equal(block!.reason, 'subject_blocked');
    assert.equal(block!.value, 'enterprise:burst');
    assert.equal(block!.expiresAt, h.clock() + 300_000);
  });
});

describe('token_replay', () => {
  const spec = { maxAddresses: 3, windowSeconds: 600 };

  test('enforce: the address one too many is refused, and the block lasts until exp plus skew', () => {
    const h = harness();
    const rule = new TokenReplay({ ...spec, mode: 'enforce' }, h.actions, undefined);
    const t = token('alice', 'fp-1');
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']) rule.observe(t, ip, h.clock());
    assert.equal(
      reasonOf(() => rule.observe(t, '10.0.0.4', h.clock())),
      'token_blocked',
    );
    const block = h.blocks.mirror.token('fp-1', h.clock())!;
    assert.equal(block.id, blockId('token', 'fp-1'));
    assert.equal(block.expiresAt, (T0 / 1000 + 3600 + 60) * 1000);
    assert.deepEqual((block.evidence as { addresses: string[] }).addresses, [
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.4',
    ]);
  });

  test('monitor: flagged once a window, never refused', () => {
    const h = harness();
    const rule = new TokenReplay({ ...spec, mode: 'monitor' }, h.actions, undefined);
    const t = token('bob', 'fp-2');
    for (let i = 1; i <= 8; i++)
      assert.equal(
        reasonOf(() => rule.observe(t, `10.0.1.${i}`, h.clock())),
        undefined,
      );
    assert.equal(h.log.lines.filter((l) => l.rule === 'token_replay').length, 1);
    h.advance(601_000);
    for (let i = 10; i <= 14; i++) rule.observe(t, `10.0.1.${i}`, h.clock());
    assert.equal(h.log.lines.filter((l) => l.rule === 'token_replay').length, 2);
    assert.equal(h.blocks.list().length, 0);
  });
});

describe('blocks', () => {
  const block = (value: string, expiresAt: number): BlockRecord => ({
    id: blockId('address', value),
    target: 'address',
    value,
    rule: 'failure_burst',
    reason: 'blocked_source',
    at: new Date(T0).toISOString(),
    expiresAt,
    by: 'test:1',
    evidence: {},
  });

  test('a block ends at its expiry, read against the clock, and the longer of two wins', () => {
    const mirror = new BlockMirror();
    mirror.apply(block('10.0.0.1', T0 + 1000));
    assert.ok(mirror.address('10.0.0.1', T0 + 999));
    assert.equal(mirror.address('10.0.0.1', T0 + 1000), undefined);
    mirror.apply(block('10.0.0.1', T0 + 5000));
    mirror.apply(block('10.0.0.1', T0 + 2000));
    assert.equal(mirror.get(blockId('address', '10.0.0.1'))!.expiresAt, T0 + 5000);
    mirror.expire(T0 + 5000);
    assert.equal(mirror.size, 0);
  });

  test('the service applies a block at once and a lifted block is gone from every map', async () => {
    const h = harness();
    assert.equal(h.blocks.block(block('10.0.0.9', T0 + MINUTE)), true);
    assert.equal(h.blocks.block(block('10.0.0.9', T0 + 10)), false, 'a shorter block changes nothing');
    assert.ok(h.blocks.mirror.address('10.0.0.9', T0));
    assert.deepEqual(
      (await h.blocks.store.list(T0)).map((b) => b.value),
      ['10.0.0.9'],
    );
    await h.blocks.unblock(blockId('address', '10.0.0.9'));
    assert.equal(h.blocks.mirror.address('10.0.0.9', T0), undefined);
    await assert.rejects(h.blocks.unblock('address-0000000000000000'), /no active block/);
  });
});
