/**
 * A fixed-bucket histogram kept in typed arrays, one row per series. Recording is a short loop
 * and two additions with no allocation: prom-client's own observe() hashes its labels on every
 * call (about 0.3 µs unlabelled, 1 µs with a label child, measured on Node 20), which the
 * request path cannot afford. The registry reads these arrays only when Prometheus scrapes.
 */
export class LocalHistogram {
  /** Non-cumulative counts, `bounds.length + 1` per series (the last is +Inf). */
  readonly counts: Float64Array;
  readonly sums: Float64Array;
  private readonly width: number;

  constructor(
    readonly bounds: readonly number[],
    readonly series: number,
  ) {
    this.width = bounds.length + 1;
    this.counts = new Float64Array(this.width * series);
    this.sums = new Float64Array(series);
  }

  observe(seriesIndex: number, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[seriesIndex * this.width + i]! += 1;
    this.sums[seriesIndex]! += value;
  }

  /** Cumulative bucket counts of one series, as Prometheus exposes them (the last is +Inf). */
  cumulative(seriesIndex: number): number[] {
    const out: number[] = [];
    let total = 0;
    for (let i = 0; i < this.width; i++) {
      total += this.counts[seriesIndex * this.width + i]!;
      out.push(total);
    }
    return out;
  }

  count(seriesIndex: number): number {
    let total = 0;
    for (let i = 0; i < this.width; i++) total += this.counts[seriesIndex * this.width + i]!;
    return total;
  }
}
