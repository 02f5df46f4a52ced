import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { CSRF_HEADER, DashboardSessions, sessionCookie } from '../../../src/admin/dashboard-session.js';

const SECRET = 'test-admin-token-0123456789';
const NOW = Date.parse('2025-01-01T00:00:00Z');
const ALICE = {
  by: 'alice',
  issuer: 'ops',
  role: 'operator',
  name: 'Alice',
  iat: 1,
  jti: 'j',
  kid: 'k',
} as const;

const request = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;

test('a session names who signed in, and is valid until it expires on any instance with the same secret and settings', () => {
  const { value, maxAgeSeconds } = new DashboardSessions(SECRET, 'roles-1').issue(ALICE, NOW);
  const elsewhere = new DashboardSessions(SECRET, 'roles-1');
  assert.deepEqual(elsewhere.read(value, NOW + 1000), ALICE);
  assert.equal(elsewhere.read(value, NOW + maxAgeSeconds * 1000), undefined);
  assert.equal(new DashboardSessions(`${SECRET}-rotated`, 'roles-1').read(value, NOW), undefined);
  // Changed roles end the sessions: a role granted under the old settings is not carried over.
  assert.equal(new DashboardSessions(SECRET, 'roles-2').read(value, NOW), undefined);
});

test('a tampered session is refused: expiry, nonce, identity and MAC are bound together', () => {
  const sessions = new DashboardSessions(SECRET);
  const { value } = sessions.issue(ALICE, NOW);
  const [version, expires, nonce, who, mac] = value.split('.');
  const promoted = Buffer.from(JSON.stringify({ ...ALICE, by: 'mallory' })).toString('base64url');
  assert.equal(sessions.read(`${version}.${Number(expires) + 3600}.${nonce}.${who}.${mac}`, NOW), undefined);
  assert.equal(sessions.read(`${version}.${expires}.${nonce}x.${who}.${mac}`, NOW), undefined);
  assert.equal(sessions.read(`${version}.${expires}.${nonce}.${promoted}.${mac}`, NOW), undefined);
  assert.equal(sessions.read(`${version}.${expires}.${nonce}.${who}.${mac!.slice(1)}`, NOW), undefined);
  assert.equal(sessions.read(`v1.${expires}.${nonce}.${mac}`, NOW), undefined);
  assert.equal(sessions.read('garbage', NOW), undefined);
});

test('API calls need the session cookie and the CSRF value derived from it', () => {
  const sessions = new DashboardSessions(SECRET);
  const { value } = sessions.issue(ALICE, NOW);
  const other = sessions.issue(ALICE, NOW).value;
  const cookie = `theme=dark; provgate_session=${value}`;
  assert.equal(sessionCookie(cookie), value);
  assert.deepEqual(
    sessions.authorizes(request({ cookie, [CSRF_HEADER]: sessions.csrfFor(value) }), NOW),
    ALICE,
  );
  assert.equal(sessions.authorizes(request({ cookie }), NOW), undefined);
  assert.equal(
    sessions.authorizes(request({ cookie, [CSRF_HEADER]: sessions.csrfFor(other) }), NOW),
    undefined,
  );
  assert.equal(sessions.authorizes(request({ [CSRF_HEADER]: sessions.csrfFor(value) }), NOW), undefined);
});
