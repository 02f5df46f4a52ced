import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { CSRF_HEADER, DashboardSessions, sessionCookie } from '../../../src/admin/dashboard-session.js';

const TOKEN = 'test-admin-token-0123456789';
const NOW = Date.parse('2025-01-01T00:00:00Z');

const request = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;

test('a session issued for the admin token is valid until it expires, on any instance with that token', () => {
  const { value, maxAgeSeconds } = new DashboardSessions(TOKEN).issue(NOW);
  const elsewhere = new DashboardSessions(TOKEN);
  assert.ok(elsewhere.valid(value, NOW + 1000));
  assert.ok(!elsewhere.valid(value, NOW + maxAgeSeconds * 1000));
  assert.ok(!new DashboardSessions(`${TOKEN}-rotated`).valid(value, NOW));
});

test('a tampered session is refused: expiry, nonce and MAC are bound together', () => {
  const sessions = new DashboardSessions(TOKEN);
  const { value } = sessions.issue(NOW);
  const [version, expires, nonce, mac] = value.split('.');
  assert.ok(!sessions.valid(`${version}.${Number(expires) + 3600}.${nonce}.${mac}`, NOW));
  assert.ok(!sessions.valid(`${version}.${expires}.${nonce}x.${mac}`, NOW));
  assert.ok(!sessions.valid(`${version}.${expires}.${nonce}.${mac!.slice(1)}`, NOW));
  assert.ok(!sessions.valid('garbage', NOW));
});

test('API calls need the session cookie and the CSRF value derived from it', () => {
  const sessions = new DashboardSessions(TOKEN);
  const { value } = sessions.issue(NOW);
  const other = sessions.issue(NOW).value;
  const cookie = `theme=dark; provgate_session=${value}`;
  assert.equal(sessionCookie(cookie), value);
  assert.ok(sessions.authorizes(request({ cookie, [CSRF_HEADER]: sessions.csrfFor(value) }), NOW));
  assert.ok(!sessions.authorizes(request({ cookie }), NOW));
  assert.ok(!sessions.authorizes(request({ cookie, [CSRF_HEADER]: sessions.csrfFor(other) }), NOW));
  assert.ok(!sessions.authorizes(request({ [CSRF_HEADER]: sessions.csrfFor(value) }), NOW));
});

test('the login form token is compared as a whole', () => {
  const sessions = new DashboardSessions(TOKEN);
  assert.ok(sessions.tokenMatches(TOKEN));
  assert.ok(!sessions.tokenMatches(TOKEN.slice(0, -1)));
  assert.ok(!sessions.tokenMatches(''));
});
