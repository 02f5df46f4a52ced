import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import { type NoticeEvent, SecurityEvents } from '../../../src/observability/security-events.js';
import { LogCapture } from '../../helpers/gateway-fixture.js';

function events() {
  const logs = new LogCapture();
  const security = new SecurityEvents(createLogger('info', logs));
  const seen: NoticeEvent[] = [];
  security.onNotice((event) => seen.push(event));
  return { logs, security, seen };
}

test('notice: one log line at the level its severity says, and the same event to the listeners', () => {
  const { logs, security, seen } = events();
  security.notice({ event: 'key.trusted', severity: 'low', kid: 'k1' }, 'trusted');
  security.notice({ event: 'key.appeared', severity: 'high', kid: 'k2' }, 'appeared');
  security.notice({ event: 'signal.applied', severity: 'critical', jti: 'j' }, 'applied');
  assert.deepEqual(
    logs.lines.map((l) => [l.event, l.level, l.msg]),
    [
      ['key.trusted', 30, 'trusted'],
      ['key.appeared', 40, 'appeared'],
      ['signal.applied', 50, 'applied'],
    ],
  );
  assert.deepEqual(
    seen.map((e) => e.event),
    ['key.trusted', 'key.appeared', 'signal.applied'],
  );
});

test('notice without a message: its line is written elsewhere, the listeners still get it', () => {
  const { logs, security, seen } = events();
  security.notice({ event: 'anomaly', severity: 'critical', rule: 'burst' }, undefined);
  assert.equal(logs.lines.length, 0);
  assert.equal(seen[0]?.rule, 'burst');
});

test('notice bounds every text field before the log and the listeners see it', () => {
  const { logs, security, seen } = events();
  const kid = 'k'.repeat(11_000);
  security.notice({ event: 'key.appeared', severity: 'high', kid }, 'appeared');
  const logged = String(logs.lines[0]?.kid);
  assert.ok(logged.length <= 256 && logged.endsWith(`…[+${11_000 - logged.indexOf('…')}]`), logged);
  assert.equal(seen[0]?.kid, logged);
});
