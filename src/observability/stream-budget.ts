// Redis memory of a stream entry against the bytes of its field values, measured on Redis 7.0
// (MEMORY USAGE ... SAMPLES 0 over 2,000 entries of one size): 1.33 times at 300 bytes, 1.30 at
// 480, 1.20 at 1,200, 1.39 at 2,000 (allocator size classes), 1.09 at 6,000. Until the stream
// has been weighed, an entry is taken to cost this many times its values.
const INITIAL_FACTOR = 1.4;
const MIN_FACTOR = 1;
const MAX_FACTOR = 2;
/** Bytes of the values of an ordinary refusal event (4 fields, a 480-byte `data`). */
const TYPICAL_VALUE_BYTES = 510;
/** Weight of a heavier entry in the estimate: 32 heavy entries in a row take it most of the way. */
const RISE = 1 / 16;
/** Below this many entries, the stream's weight is mostly its own structure, not its entries'. */
const MIN_ENTRIES_TO_WEIGH = 100;

/**
 * How many entries the shared event stream may keep to stay under a byte budget. Redis caps a
 * stream by entry count only (XADD MAXLEN), and an entry's size is the client's choice (kid,
 * iss, sub and jti come from the token, bounded to 256 characters each, and the path). So the
 * count cap of each XADD comes from the budget and what entries weigh, two ways:
 * - an estimate from the entries this instance writes, known as they are written, so that a
 *   flood of heavy entries lowers the cap at once;
 * - the stream's real weight, measured now and then (MEMORY USAGE), which counts every
 *   instance's entries and Redis' own overhead, and calibrates the estimate.
 * The heavier of the two decides: the cap errs towards fewer entries, never towards more bytes.
 */
export class StreamBudget {
  /** Running estimate of the value bytes of this instance's entries. */
  private valueBytes = TYPICAL_VALUE_BYTES;
  /** Redis bytes per value byte, as last measured. */
  private factor = INITIAL_FACTOR;
  /** Redis bytes per entry of the whole stream at the last measurement; 0 before one. */
  private measured = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxLength: number,
  ) {}

  /** The count cap for the next XADD. */
  get maxEntries(): number {
    const perEntry = Math.max(this.valueBytes * this.factor, this.measured);
    return Math.max(1, Math.min(this.maxLength, Math.floor(this.maxBytes / perEntry)));
  }

  /**
   * One entry about to be written, `valueBytes` the bytes of its field values. The estimate rises
   * quickly and falls about as fast as the stream forgets: a heavy entry leaves the stream only
   * after `maxEntries` newer ones, so forgetting it sooner would let the stream outgrow the budget.
   */
  observe(valueBytes: number): void {
    const rate = valueBytes > this.valueBytes ? RISE : 1 / Math.max(1 / RISE, this.maxEntries);
    this.valueBytes += (valueBytes - this.valueBytes) * rate;
  }

  /**
   * The stream's measured size; returns the length to trim it to when it is over the budget
   * (entries of other instances, or of an earlier run, count too), else undefined.
   */
  measure(usageBytes: number, length: number): number | undefined {
    if (length <= 0 || usageBytes <= 0) return undefined;
    if (length >= MIN_ENTRIES_TO_WEIGH) {
      this.measured = usageBytes / length;
      this.factor = Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, this.measured / this.valueBytes));
    }
    if (usageBytes <= this.maxBytes) return undefined;
    return Math.max(1, Math.floor((length * this.maxBytes) / usageBytes));
  }
}
