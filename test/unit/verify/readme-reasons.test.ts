import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { REASON_CODES, REASONS } from '../../../src/verify/reasons.js';

// The README is the operator's reference: it must name every reason the gateway can give,
// with the status the code really sends, and no reason the code does not know.
test('the README reason table equals src/verify/reasons.ts', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  const documented = new Map(rows);
  for (const reason of REASON_CODES) {
    assert.ok(documented.has(reason), `README does not document ${reason}`);
    assert.equal(documented.get(reason), REASONS[reason].status, `README status for ${reason}`);
  }
  for (const reason of documented.keys())
    assert.ok(reason in REASONS, `README documents unknown reason ${reason}`);
});
