import type { LoadOutcome } from '../generator/job.js';
import type { Expectation } from './scenarios.js';

export interface StatusCheck {
  readonly ok: boolean;
  readonly text: string;
}

/**
 * Whether the answers were the ones the scenario must get: a misconfigured target that
 * refuses everything (or lets everything through) would otherwise look fast.
 */
export function checkStatuses(expect: Expectation, outcomes: readonly LoadOutcome[]): StatusCheck {
  const counts: Record<string, number> = {};
  let errors = 0;
  for (const o of outcomes) {
    for (const [code, n] of Object.entries(o.statusCounts)) counts[code] = (counts[code] ?? 0) + n;
    errors += o.errors + o.timeouts + (o.error === undefined ? 0 : 1);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const ok200 = counts['200'] ?? 0;
  const ok401 = counts['401'] ?? 0;
  const others = total - ok200 - ok401;
  const share = total === 0 ? 0 : ok200 / total;
  let ok: boolean;
  if (total === 0 || errors > 0 || others > 0) ok = false;
  else if (expect === 'all-200') ok = ok401 === 0;
  else if (expect === 'all-401') ok = ok200 === 0;
  else ok = share > 0.45 && share < 0.55;
  const parts = Object.entries(counts).map(([code, n]) => `${code}×${n}`);
  if (errors > 0) parts.push(`errors×${errors}`);
  return {
    ok,
    text: `${ok ? 'as expected' : 'UNEXPECTED'} (${expect}: ${parts.join(', ') || 'no answers'})`,
  };
}
