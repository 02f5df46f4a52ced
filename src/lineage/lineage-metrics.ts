import { Counter, Gauge, type Registry } from 'prom-client';
import type { LineageService } from './lineage-service.js';

/**
 * Lineage on /metrics: mints recorded, refusals by phase and rule, live records, mirror-miss
 * lookups by outcome, records held for an absent store. Read at scrape time from plain counters.
 */
export function registerLineageMetrics(registry: Registry, lineage: LineageService): void {
  const registers = [registry];
  const { stats } = lineage;
  new Counter({
    name: 'provgate_lineage_mints_total',
    help: 'Minted tokens recorded by this instance (a lineage record each)',
    registers,
    collect() {
      this.reset();
      this.inc(stats.minted);
    },
  });
  new Counter({
    name: 'provgate_lineage_refusals_total',
    help: 'Lineage refusals by phase (mint: mint_refused at a minting route; use: lineage_unknown, parent_revoked, lineage_unavailable, or what monitor would refuse) and rule',
    labelNames: ['phase', 'rule'],
    registers,
    collect() {
      this.reset();
      for (const [rule, n] of stats.mintRefusals) this.inc({ phase: 'mint', rule }, n);
      for (const [rule, n] of stats.useRefusals) this.inc({ phase: 'use', rule }, n);
    },
  });
  new Counter({
    name: 'provgate_lineage_lookups_total',
    help: 'Mirror misses for a minted token, by what the store lookup found: found, unknown, cached (a recent unknown), unavailable',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, n] of stats.lookups) this.inc({ outcome }, n);
    },
  });
  new Gauge({
    name: 'provgate_lineage_records',
    help: "Live lineage records in this instance's mirror",
    registers,
    collect() {
      this.set(lineage.mirror.size);
    },
  });
  new Gauge({
    name: 'provgate_lineage_held_records',
    help: 'Lineage records held here while the store was away (serve-stale), not yet in the store',
    registers,
    collect() {
      this.set(lineage.owedCount);
    },
  });
}
