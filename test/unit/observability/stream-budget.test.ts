import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamBudget } from '../../../src/observability/stream-budget.js';

const MiB = 1024 * 1024;

test('ordinary events: the entry cap decides, as before the byte budget existed', () => {
  const budget = new StreamBudget(64 * MiB, 100_000);
  for (let i = 0; i < 1000; i++) budget.observe(510);
  // 64 MiB over ~714 estimated bytes per entry: the count cap of 100,000 is nearly reached.
  assert.ok(budget.maxEntries > 90_000, String(budget.maxEntries));
  // Weighed by Redis at 625 bytes an entry: the cap is the configured one.
  assert.equal(budget.measure(100_000 * 625, 100_000), undefined);
  assert.equal(budget.maxEntries, 100_000);
});

test('a flood of heavy entries lowers the cap at once, before any measurement', () => {
  const budget = new StreamBudget(64 * MiB, 100_000);
  for (let i = 0; i < 64; i++) budget.observe(1_700);
  const cap = budget.maxEntries;
  assert.ok(cap * 1_700 * 1.4 <= 64 * MiB * 1.1, `cap ${cap}`);
  assert.ok(cap < 40_000, `cap ${cap}`);
});

test('the estimate forgets heavy entries only as fast as the stream does', () => {
  const budget = new StreamBudget(1 * MiB, 100_000);
  for (let i = 0; i < 200; i++) budget.observe(4_000);
  const heavyCap = budget.maxEntries;
  // A handful of light entries later the stream still holds mostly heavy ones: the cap barely moves.
  for (let i = 0; i < 10; i++) budget.observe(300);
  assert.ok(budget.maxEntries < heavyCap * 1.1, `${budget.maxEntries} vs ${heavyCap}`);
  // After the stream turned over many times, light entries are what it holds.
  for (let i = 0; i < 20_000; i++) budget.observe(300);
  assert.ok(budget.maxEntries > heavyCap * 5, `${budget.maxEntries} vs ${heavyCap}`);
});

test('a measured stream over its budget is trimmed in proportion; a short stream does not calibrate', () => {
  const budget = new StreamBudget(1 * MiB, 100_000);
  assert.equal(budget.measure(4 * MiB, 1_000), 250);
  assert.equal(budget.measure(512 * 1024, 1_000), undefined);
  const before = budget.maxEntries;
  // One entry and the stream's own structure: says nothing about what entries weigh.
  budget.measure(20_000, 1);
  assert.equal(budget.maxEntries, before);
});

test('the measured weight counts when it is heavier than the estimate (other instances)', () => {
  const budget = new StreamBudget(1 * MiB, 100_000);
  for (let i = 0; i < 100; i++) budget.observe(510);
  const own = budget.maxEntries;
  budget.measure(800 * 4_096, 800);
  assert.ok(budget.maxEntries <= Math.floor(MiB / 4_096) + 1, `${budget.maxEntries} (own estimate ${own})`);
});
