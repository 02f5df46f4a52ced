// The admin API's block routes answer each failure for what it is: only an unavailable store is
// a 503; a bad request is a 4xx; a missing block a 404; anything else a bug: 500 server_error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerBlockRoutes } from '../../../src/admin/block-routes.js';
import { BlockNotFoundError } from '../../../src/protection/block-service.js';
import { StoreUnavailableError } from '../../../src/store/store-unavailable-error.js';

const TOKEN = 'test-admin-token-0123456789';

async function appLifting(unblock: (id: string) => Promise<unknown>) {
  const app = Fastify({ logger: false });
  const runtime = { current: { protection: { blocks: { list: () => [], unblock } } } };
  // Authentication is not what is tested here: a guard that lets the request through.
  const deps = { runtime, adminToken: () => TOKEN, guard: { hook: async () => {} } };
  registerBlockRoutes(app, deps as never);
  await app.ready();
  const lift = (init: { body?: string; headers?: Record<string, string> } = {}) =>
    app.inject({
      method: 'DELETE',
      url: '/blocks/address-0123456789abcdef',
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
  return { app, lift };
}

test('a store that is away: 503 store_unavailable, the block not lifted', async () => {
  const { app, lift } = await appLifting(async () => {
    throw new StoreUnavailableError('redis: write timed out after 2000 ms');
  });
  const res = await lift();
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error, 'store_unavailable');
  await app.close();
});

test('a bug is a 500 server_error that leaks nothing, not a 503 that blames Redis', async () => {
  const { app, lift } = await appLifting(async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'expiresAt')");
  });
  const res = await lift();
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: 'server_error' });
  await app.close();
});

test('a malformed request is a 400, an unknown block a 404', async () => {
  const { app, lift } = await appLifting(async (id) => {
    throw new BlockNotFoundError(id);
  });
  const bad = await lift({ body: '{not json', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.statusCode, 400);
  const missing = await lift();
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error, 'not_found');
  await app.close();
});
