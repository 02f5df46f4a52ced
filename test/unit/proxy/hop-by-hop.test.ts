import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionOptions, isHopByHop } from '../../../src/proxy/hop-by-hop.js';

test('RFC 9110 §7.6.1 fields are hop-by-hop; end-to-end ones are not', () => {
  for (const name of [
    'connection',
    'keep-alive',
    'proxy-connection',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
  ])
    assert.ok(isHopByHop(name), name);
  for (const name of ['content-length', 'content-type', 'authorization', 'x-auth-subject'])
    assert.ok(!isHopByHop(name));
});

test('the fields a Connection header names, lower-cased; none for the usual keep-alive or close', () => {
  assert.equal(connectionOptions(undefined), undefined);
  assert.equal(connectionOptions('keep-alive'), undefined);
  assert.equal(connectionOptions('Close'), undefined);
  assert.equal(connectionOptions('keep-alive, Upgrade'), undefined);
  assert.deepEqual(connectionOptions('X-Secret'), new Set(['x-secret']));
  assert.deepEqual(connectionOptions('keep-alive, X-A ,x-b,,'), new Set(['x-a', 'x-b']));
  assert.deepEqual(connectionOptions(['close', 'X-C']), new Set(['x-c']));
});
