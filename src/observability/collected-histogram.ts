import type { Metric, Registry } from 'prom-client';
import type { LocalHistogram } from './local-histogram.js';

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
}

/**
 * A LocalHistogram exposed through a prom-client registry. prom-client has no way to hand it
 * bucket counts kept elsewhere, so this object answers the registry's get() itself, in the
 * shape prom-client's own Histogram returns.
 */
export function registerHistogram(
  registry: Registry,
  options: {
    readonly name: string;
    readonly help: string;
    readonly histogram: LocalHistogram;
    /** One label, one value per series; omitted for a histogram of one series. */
    readonly label?: { readonly name: string; readonly values: readonly string[] };
    /** Series not to export (e.g. the no-route row that is never observed). */
    readonly skip?: (seriesIndex: number) => boolean;
  },
): void {
  const { name, help, histogram, label, skip } = options;
  const les = [...histogram.bounds.map(String), '+Inf'];
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: Sample[] = [];
      for (let s = 0; s < histogram.series; s++) {
        if (skip?.(s)) continue;
        const base: Record<string, string> = label === undefined ? {} : { [label.name]: label.values[s]! };
        const cumulative = histogram.cumulative(s);
        for (const [i, value] of cumulative.entries()) {
          values.push({ labels: { ...base, le: les[i]! }, value, metricName: `${name}_bucket` });
        }
        values.push({ labels: base, value: histogram.sums[s]!, metricName: `${name}_sum` });
        values.push({ labels: base, value: cumulative.at(-1)!, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset() {},
  };
  registry.registerMetric(metric as unknown as Metric);
}
