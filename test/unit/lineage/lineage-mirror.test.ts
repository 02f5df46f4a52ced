import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineageMirror } from '../../../src/lineage/lineage-mirror.js';
import {
  type AncestorFacts,
  type LineageRecord,
  lineageId,
  revocationReaches,
} from '../../../src/lineage/lineage-record.js';
import { countReached } from '../../../src/lineage/lineage-service.js';

const ROOT: AncestorFacts = {
  issuer: 'enterprise',
  jti: 'root-1',
  sub: 'alice',
  iat: 1000,
  exp: 5000,
  kid: 'ent-1',
  keyThumbprint: 't',
  fingerprint: 'f-root',
};

function record(jti: string, ancestors: AncestorFacts[], expiresAt = 10_000_000): LineageRecord {
  return {
    id: lineageId('owa', jti),
    child: {
      issuer: 'owa',
      jti,
      sub: 'alice',
      iat: 1000,
      exp: 5000,
      kid: 'owa-1',
      fingerprint: `f-${jti}`,
      kind: 'access_token',
    },
    ancestors,
    route: 'token',
    at: '2026-01-01T00:00:00Z',
    by: 'test',
    expiresAt,
  };
}

test('found by issuer and jti; descendants by any ancestor; both follow removal and expiry', () => {
  const mirror = new LineageMirror();
  const child = record('c-1', [ROOT]);
  const grandchild = record('c-2', [{ ...ROOT, issuer: 'owa', jti: 'c-1', fingerprint: 'f-c-1' }, ROOT], 500);
  mirror.apply(child);
  mirror.apply(grandchild);
  assert.equal(mirror.find('owa', 'c-1'), child);
  assert.equal(mirror.find('enterprise', 'c-1'), undefined);
  assert.deepEqual(
    mirror
      .descendantsOf('enterprise', 'root-1')
      .map((r) => r.child.jti)
      .sort(),
    ['c-1', 'c-2'],
  );
  assert.deepEqual(
    mirror.descendantsOf('owa', 'c-1').map((r) => r.child.jti),
    ['c-2'],
  );
  assert.deepEqual(mirror.expire(1000), [grandchild.id]);
  assert.deepEqual(
    mirror.descendantsOf('enterprise', 'root-1').map((r) => r.child.jti),
    ['c-1'],
  );
  mirror.remove(child.id);
  assert.equal(mirror.find('owa', 'c-1'), undefined);
  assert.equal(mirror.size, 0);
  mirror.replaceAll([child]);
  assert.equal(mirror.find('owa', 'c-1'), child);
});

test('which revocations reach an ancestor, and how many live records a revocation takes down', () => {
  assert.ok(revocationReaches({ kind: 'key', issuer: 'enterprise', kid: 'ent-1' }, ROOT));
  assert.ok(!revocationReaches({ kind: 'key', issuer: 'consumer', kid: 'ent-1' }, ROOT));
  assert.ok(revocationReaches({ kind: 'token', issuer: 'enterprise', jti: 'root-1' }, ROOT));
  assert.ok(
    revocationReaches(
      { kind: 'subject', issuer: 'enterprise', sub: 'alice', before: '1970-01-01T00:16:41Z' },
      ROOT,
    ),
  );
  assert.ok(
    !revocationReaches(
      { kind: 'subject', issuer: 'enterprise', sub: 'alice', before: '1970-01-01T00:16:40Z' },
      ROOT,
    ),
  );
  assert.ok(
    revocationReaches({ kind: 'issuer', issuer: 'enterprise', before: '1970-01-01T01:00:00Z' }, ROOT),
  );
  assert.ok(!revocationReaches({ kind: 'session', issuer: 'enterprise', sid: 's' }, ROOT));
  const records = [record('a', [ROOT]), record('b', [ROOT], 10), record('c', [{ ...ROOT, kid: 'ent-2' }])];
  assert.equal(countReached(records, { kind: 'key', issuer: 'enterprise', kid: 'ent-1' }, 100), 1);
  assert.equal(countReached(records, { kind: 'token', issuer: 'enterprise', jti: 'root-1' }, 1), 3);
});
