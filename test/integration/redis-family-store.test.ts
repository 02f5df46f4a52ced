// The store half of every mirrored family, on a real redis-server: a family that keeps an audit
// trail and one that does not, each built from RedisFamilyStore with one write of its own. What
// the other instances' readers depend on is pinned: the key layout, `<version> <change JSON>`
// with the version of the write's own INCR, one version per removal, the audit lines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { StoreConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
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
