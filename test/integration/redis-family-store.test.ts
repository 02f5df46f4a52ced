// The store half of every mirrored family, on a real redis-server: a family that keeps an audit
// trail and one that does not, each built from RedisFamilyStore with one write of its own. What
// the other instances' readers depend on is pinned: the key layout, `<version> <change JSON>`
// with the version of the write's own INCR, one version per removal, the audit lines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { StoreConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { RedisSignalStore, signalKeys } from '../../src/signals/redis-signal-store.js';
import { type SignalBlock, verificationKey } from '../../src/signals/signal-store.js';
import { announce } from '../../src/store/family-scripts.js';
import type { MirroredRecord } from '../../src/store/mirrored-store.js';
import {
  auditedFamilyKeys,
  type FamilyKeys,
  familyKeys,
  RedisFamilyStore,
} from '../../src/store/redis-family-store.js';
import { RedisLink } from '../../src/store/redis-link.js';
import { LogCapture } from '../helpers/gateway-fixture.js';
import { waitFor } from '../helpers/poll.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

interface Note extends MirroredRecord {
  readonly text: string;
}

// ARGV: id, record, change[, audit line].
const PUT = (audited: boolean) => `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
${announce({ change: 'ARGV[3]', audit: audited ? 'ARGV[4]' : undefined })}
return 1
`;

class NoteStore extends RedisFamilyStore<Note> {
  private readonly putScript: (...args: string[]) => Promise<number>;

  constructor(link: RedisLink, keys: FamilyKeys, logs: LogCapture) {
    super(link, keys, { name: 'note store', noun: 'note', logger: createLogger('info', logs) });
    const audited = keys.audit !== undefined;
    this.putScript = this.writeScript<number>(`testNotePut${audited ? 'Audited' : ''}`, PUT(audited));
  }

  async put(note: Note): Promise<void> {
    const audit = JSON.stringify({ op: 'put', at: 'then', by: 'test', record: note });
    const change = JSON.stringify({ op: 'add', record: note });
    await this.putScript(note.id, JSON.stringify(note), change, ...(this.keys.audit ? [audit] : []));
  }

  remove(id: string, by?: string) {
    return this.removeRecord(id, by);
  }

  all() {
    return this.readAll();
  }

  audit(limit = 1000) {
    return this.readAudit<Record<string, unknown>>(limit);
  }
}

let redis: TestRedis;
let inspect: Redis;
let link: RedisLink;
const logs = new LogCapture();

before(async () => {
  redis = await startRedis();
  inspect = new Redis(redis.url);
  const config: StoreConfig = {
    kind: 'redis',
    url: redis.url,
    prefix: 'pg-fam:',
    onUnavailable: 'serve-stale',
    maxStaleSeconds: 60,
    resyncSeconds: 5,
    lookupTimeoutMs: 250,
    writeTimeoutMs: 2000,
  };
  link = new RedisLink(config, createLogger('silent'));
  await link.waitUntilReady(5000);
});

after(async () => {
  link.close();
  inspect.disconnect();
  await redis.close();
});

/** Every message on `channel`, as another instance's subscriber receives it. */
async function listen(channel: string): Promise<{ messages: string[]; close: () => void }> {
  const subscriber = new Redis(redis.url);
  const messages: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => messages.push(message));
  await subscriber.subscribe(channel);
  return { messages, close: () => subscriber.disconnect() };
}

describe('a family with an audit trail', () => {
  const keys = auditedFamilyKeys('pg-fam:', 'note');

  test('keys keep the layout: <prefix>{tag}:records|version|changes|audit', () => {
    assert.deepEqual(keys, {
      records: 'pg-fam:{note}:records',
      version: 'pg-fam:{note}:version',
      channel: 'pg-fam:{note}:changes',
      audit: 'pg-fam:{note}:audit',
    });
  });

  test('a write and a removal each move the version, keep an audit line and announce "<version> <change>"', async () => {
    const store = new NoteStore(link, keys, logs);
    const heard = await listen(keys.channel);
    try {
      const note: Note = { id: 'n1', text: 'hello' };
      await store.put(note);
      assert.equal(await store.version(), 1);
      assert.deepEqual(await store.all(), [note]);
      assert.deepEqual(await store.snapshot(), { version: 1, records: [note] });

      assert.deepEqual(await store.remove('n1', 'alice'), note);
      assert.equal(await store.remove('n1', 'alice'), undefined, 'nothing left to remove');
      assert.equal(await store.version(), 2, 'a removal of nothing moves nothing');

      await waitFor(() => heard.messages.length === 2, { message: 'both messages' });
      assert.deepEqual(heard.messages, [
        `1 ${JSON.stringify({ op: 'add', record: note })}`,
        `2 ${JSON.stringify({ op: 'remove', id: 'n1' })}`,
      ]);
      const audit = await store.audit();
      assert.equal(audit.length, 2);
      assert.deepEqual(audit[0], { op: 'put', at: 'then', by: 'test', record: note });
      assert.deepEqual(Object.keys(audit[1]!), ['op', 'at', 'by', 'id']);
      assert.deepEqual(
        { ...audit[1], at: undefined },
        { op: 'remove', at: undefined, by: 'alice', id: 'n1' },
      );
    } finally {
      heard.close();
      await store.close();
    }
  });

  test('removeExpired removes only what is still expired, each with a version, a message and an audit line', async () => {
    const store = new NoteStore(link, keys, logs);
    const heard = await listen(keys.channel);
    try {
      const start = await store.version();
      await store.put({ id: 'old', text: 'a', expiresAt: 1000 });
      await store.put({ id: 'new', text: 'b', expiresAt: 5000 });
      await store.put({ id: 'forever', text: 'c' });
      await store.removeExpired(['old', 'new', 'forever', 'missing'], 2000);

      assert.deepEqual((await store.all()).map((n) => n.id).sort(), ['forever', 'new']);
      assert.equal(await store.version(), start + 4);
      await waitFor(() => heard.messages.length === 4, { message: 'four messages' });
      assert.equal(heard.messages[3], `${start + 4} ${JSON.stringify({ op: 'remove', id: 'old' })}`);
      const last = (await store.audit(1))[0]!;
      assert.equal(last.by, 'system');
      assert.equal(last.id, 'old');
    } finally {
      heard.close();
      await store.close();
    }
  });
});

describe('a family without an audit trail', () => {
  const keys = familyKeys('pg-fam:', 'plain');

  test('writes, removes and expires without an audit key', async () => {
    const store = new NoteStore(link, keys, logs);
    const heard = await listen(keys.channel);
    try {
      await store.put({ id: 'p1', text: 'x', expiresAt: 1000 });
      await store.put({ id: 'p2', text: 'y' });
      assert.deepEqual(await store.remove('p2'), { id: 'p2', text: 'y' });
      await store.removeExpired(['p1'], 2000);
      assert.deepEqual(await store.snapshot(), { version: 4, records: [] });
      await waitFor(() => heard.messages.length === 4, { message: 'four messages' });
      assert.deepEqual(
        heard.messages.map((m) => m.split(' ')[0]),
        ['1', '2', '3', '4'],
      );
      assert.deepEqual((await inspect.keys('pg-fam:{plain}:*')).sort(), [keys.version]);
      assert.deepEqual(await store.audit(), []);
    } finally {
      heard.close();
      await store.close();
    }
  });

  test('an unreadable message is logged with the family noun and not passed on', async () => {
    const keys = familyKeys('pg-fam:', 'odd');
    const store = new NoteStore(link, keys, logs);
    const changes: unknown[] = [];
    const unsubscribe = store.subscribe((change) => changes.push(change));
    try {
      await waitFor(
        async () => ((await inspect.pubsub('NUMSUB', keys.channel)) as [string, number])[1] === 1,
        { message: 'the subscription' },
      );
      await inspect.publish(keys.channel, 'not json');
      await inspect.publish(keys.channel, `9 ${JSON.stringify({ op: 'remove', id: 'p9' })}`);
      await waitFor(() => changes.length === 1, { message: 'the readable message' });
      assert.deepEqual(changes, [{ op: 'remove', id: 'p9', version: 9 }]);
      const warned = logs.lines.filter((l) => l.event === 'store.bad_message');
      assert.deepEqual(
        warned.map((l) => l.msg),
        ['ignored an unreadable note message'],
      );
    } finally {
      unsubscribe();
      await store.close();
    }
  });
});

describe('the signal family on it', () => {
  const keys = signalKeys('pg-fam:');
  const block: SignalBlock = {
    id: 'sig-0123456789abcdef',
    transmitter: 'idp',
    issuerId: 'enterprise',
    sub: 'alice',
    signal: 'risk-level-change',
    value: 'HIGH',
    at: 1700000000,
    jti: 'set-1',
  };

  test('keys keep the {sig} layout', () => {
    assert.deepEqual(
      {
        records: keys.records,
        version: keys.version,
        channel: keys.channel,
        states: keys.states,
        applied: keys.applied('h1'),
        verification: keys.verification('h2'),
      },
      {
        records: 'pg-fam:{sig}:records',
        version: 'pg-fam:{sig}:version',
        channel: 'pg-fam:{sig}:changes',
        states: 'pg-fam:{sig}:states',
        applied: 'pg-fam:{sig}:applied:h1',
        verification: 'pg-fam:{sig}:verify:h2',
      },
    );
  });

  test('a block, a transmitter patch and a lift each move the version and announce it; a lift of nothing moves nothing', async () => {
    const store = new RedisSignalStore(link, { prefix: 'pg-fam:', logger: createLogger('silent') });
    const heard = await listen(keys.channel);
    try {
      const record = { id: block.id, type: 'block', block } as const;
      assert.deepEqual(await store.putBlock(block), { op: 'add', record, version: 1 });
      await store.patchTransmitter('idp', { stream: 'paused', streamReason: 'ops' });
      const patched = await store.patchTransmitter('idp', { lastJti: 'set-1' });
      const transmitter = {
        id: 'transmitter:idp',
        type: 'transmitter',
        name: 'idp',
        state: { stream: 'paused', streamReason: 'ops', lastJti: 'set-1' },
      } as const;
      assert.deepEqual(patched, { op: 'add', record: transmitter, version: 3 }, 'both patches kept');
      assert.deepEqual(await store.removeBlock(block.id), { op: 'remove', id: block.id, version: 4 });
      assert.equal(await store.removeBlock(block.id), undefined, 'nothing left to lift');
      assert.equal(await store.version(), 4);
      assert.deepEqual(await store.snapshot(), { version: 4, records: [transmitter] });
      assert.deepEqual(await store.transmitters(), { idp: transmitter.state });

      await waitFor(() => heard.messages.length === 4, { message: 'four messages' });
      assert.equal(heard.messages[0], `1 ${JSON.stringify({ op: 'add', record })}`);
      assert.match(heard.messages[2]!, /^3 \{"op":"add","record":\{/);
      assert.deepEqual(JSON.parse(heard.messages[2]!.slice(2)), { op: 'add', record: transmitter });
      assert.equal(heard.messages[3], `4 ${JSON.stringify({ op: 'remove', id: block.id })}`);
    } finally {
      heard.close();
      await store.close();
    }
  });

  test('an unreadable signal message is logged as one', async () => {
    const store = new RedisSignalStore(link, { prefix: 'pg-odd:', logger: createLogger('info', logs) });
    const channel = signalKeys('pg-odd:').channel;
    const unsubscribe = store.subscribe(() => {});
    try {
      await waitFor(async () => ((await inspect.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, {
        message: 'the subscription',
      });
      await inspect.publish(channel, 'not json');
      await waitFor(() => logs.lines.some((l) => l.msg === 'ignored an unreadable signal message'), {
        message: 'the warning',
      });
    } finally {
      unsubscribe();
      await store.close();
    }
  });

  test('applied SETs, states and verifications stay store-side: no version, no message', async () => {
    const store = new RedisSignalStore(link, { prefix: 'pg-fam:', logger: createLogger('silent') });
    try {
      const start = await store.version();
      assert.equal(await store.wasApplied('h1'), false);
      await store.markApplied('h1', 60_000);
      assert.equal(await store.wasApplied('h1'), true);
      assert.ok((await inspect.pttl(keys.applied('h1'))) > 0);

      assert.equal(await store.advance('alice|risk', 20, 'HIGH'), true);
      assert.equal(await store.advance('alice|risk', 10, 'LOW'), false, 'an older event changes nothing');
      assert.deepEqual(JSON.parse((await inspect.hget(keys.states, 'alice|risk'))!), {
        at: 20,
        value: 'HIGH',
      });

      await store.expectVerification('idp', 'state-1', 600_000);
      const verify = keys.verification(verificationKey('idp', 'state-1'));
      const ttl = await inspect.pttl(verify);
      assert.ok(ttl > 0 && ttl <= 600_000, `PTTL ${ttl}`);
      assert.equal(await store.consumeVerification('idp', 'state-1'), true);
      assert.equal(await store.consumeVerification('idp', 'state-1'), false, 'a state counts once');
      assert.equal(await store.version(), start);
    } finally {
      await store.close();
    }
  });
});
