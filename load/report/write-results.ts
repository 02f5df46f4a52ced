import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatWithBiome } from './format-results.js';
import { renderMarkdown } from './markdown.js';
import type { RunReport } from './run-report.js';
import { renderSvg } from './svg-chart.js';

export const RESULTS_DIR = new URL('../results/', import.meta.url).pathname;

/**
 * A full run replaces results/latest.*; a partial one (--only) writes into the git-ignored
 * results/tmp/ so that it cannot pass for the suite's answer.
 */
export function writeResults(report: RunReport): { dir: string; markdown: string } {
  const dir = report.partial ? join(RESULTS_DIR, 'tmp') : RESULTS_DIR;
  const base = report.partial ? 'partial' : 'latest';
  mkdirSync(dir, { recursive: true });
  const markdown = renderMarkdown(report);
  const files = [`${base}.json`, `${base}.md`, `${base}.svg`].map((f) => join(dir, f));
  writeFileSync(files[0]!, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files[1]!, markdown);
  writeFileSync(files[2]!, renderSvg(report));
  if (!report.partial) formatWithBiome(files);
  return { dir: join(dir, base), markdown };
}
