import type { CacheAdmissionPolicy } from '../config/schema.js';

/**
 * Which verified tokens enter a cache. Under `first-sighting` every one does; under
 * `second-sighting` a token enters on the second time it is verified, and a small doorkeeper
 * remembers the first sightings: a flood of tokens that each come once (every token new, a
 * burst of fresh logins, junk) never churns the cache or leaves its evicted entries behind as
 * old-generation garbage, at the price of one more signature check for a token that returns.
 *
 * The doorkeeper is two fixed tables of 32-bit tags of the token's cache key (tokenKey, the one
 * hash of its signature's tail the caches use too), open addressing: the
 * current one takes new sightings; when it holds its share it becomes the previous one, and
 * the one before is dropped. A sighting is remembered for at least `entries` later ones, so
 * its memory is bounded whatever the traffic. A tag shared by two tokens (about one chance in
 * four billion a look-up) only lets a token in early, as `first-sighting` would.
 */
export class CacheAdmission {
  private readonly mask: number;
  private current: Int32Array;
  private previous: Int32Array;
  private count = 0;
  private readonly entries: number;
  private deferred = 0;

  constructor(
    readonly policy: CacheAdmissionPolicy,
    entries: number,
  ) {
    this.entries = Math.max(1, Math.min(entries, 1 << 20));
    // At most half full: a miss ends after two probes on average.
    let size = 2;
    while (size < this.entries * 2) size *= 2;
    this.mask = size - 1;
    const tables = policy === 'second-sighting' ? size : 0;
    this.current = new Int32Array(tables);
    this.previous = new Int32Array(tables);
  }

  /** Tokens kept out of the cache on their first sighting so far. */
  get firstSightings(): number {
    return this.deferred;
  }

  /**
   * Whether the token with this cache key (tokenKey), verified just now, enters the cache; a first
   * sighting is remembered instead.
   */
  admit(key: number): boolean {
    if (this.policy === 'first-sighting') return true;
    // The key's low 32 bits pick the slot; its 21 high bits, mixed with them, make the tag.
    const h1 = (key % 0x100000000) | 0;
    const high = Math.floor(key / 0x100000000);
    // 0 marks an empty slot.
    const tag = (Math.imul(high ^ (h1 >>> 16), 0x5bd1e995) ^ h1) | 1;
    if (this.seen(this.current, h1, tag) || this.seen(this.previous, h1, tag)) return true;
    this.remember(h1, tag);
    this.deferred += 1;
    return false;
  }

  clear(): void {
    this.current.fill(0);
    this.previous.fill(0);
    this.count = 0;
  }

  private seen(table: Int32Array, h1: number, tag: number): boolean {
    for (let slot = h1 & this.mask; ; slot = (slot + 1) & this.mask) {
      const t = table[slot]!;
      if (t === tag) return true;
      if (t === 0) return false;
    }
  }

  private remember(h1: number, tag: number): void {
    if (this.count >= this.entries) {
      const dropped = this.previous;
      this.previous = this.current;
      this.current = dropped;
      dropped.fill(0);
      this.count = 0;
    }
    let slot = h1 & this.mask;
    while (this.current[slot] !== 0) slot = (slot + 1) & this.mask;
    this.current[slot] = tag;
    this.count += 1;
  }
}
