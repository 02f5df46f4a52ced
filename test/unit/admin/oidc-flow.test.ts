import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DashboardSessions } from '../../../src/admin/dashboard-session.js';
import { FLOW_COOKIE, resumeFlow, startFlow } from '../../../src/admin/oidc-flow.js';

const NOW = Date.parse('2025-01-01T00:00:00Z');
const sessions = new DashboardSessions('a-client-secret-0123456789', 'ctx');

test('the callback resumes the flow this browser started: same state, same verifier and nonce', () => {
  const { flow, cookie } = startFlow(sessions, NOW);
  assert.equal(flow.codeChallenge, createHash('sha256').update(flow.codeVerifier).digest('base64url'));
  assert.match(flow.codeVerifier, /^[A-Za-z0-9_-]{43,128}$/, 'RFC 7636 4.1');
  const resumed = resumeFlow(sessions, `${FLOW_COOKIE}=${cookie}`, flow.state, NOW + 1000);
  assert.deepEqual(resumed, flow);
  // Another instance with the same secret and settings resumes it too.
  assert.deepEqual(
    resumeFlow(
      new DashboardSessions('a-client-secret-0123456789', 'ctx'),
      `${FLOW_COOKIE}=${cookie}`,
      flow.state,
      NOW,
    ),
    flow,
  );
});

test('a callback that is not this browser’s sign-in is refused, with why', () => {
  const { flow, cookie } = startFlow(sessions, NOW);
  const other = startFlow(sessions, NOW);
  const header = `${FLOW_COOKIE}=${cookie}`;
  assert.match(String(resumeFlow(sessions, undefined, flow.state, NOW)), /no sign-in in progress/);
  assert.match(String(resumeFlow(sessions, header, other.flow.state, NOW)), /state does not match/);
  assert.match(String(resumeFlow(sessions, header, undefined, NOW)), /state does not match/);
  assert.match(String(resumeFlow(sessions, header, flow.state, NOW + 601_000)), /10 minutes/);
  const [state, expires] = cookie.split('.');
  assert.match(
    String(resumeFlow(sessions, `${FLOW_COOKIE}=${state}.${Number(expires) + 999}.x`, flow.state, NOW)),
    /not this gateway/,
  );
  assert.match(
    String(resumeFlow(new DashboardSessions('another-secret-0123456789'), header, flow.state, NOW)),
    /not this gateway/,
  );
});
