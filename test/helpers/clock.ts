/**
 * The one injected clock of the tests, in milliseconds like `Date.now()`: a test moves time
 * instead of sleeping through windows, cooldowns and expiries. `advance` takes milliseconds,
 * `advanceSeconds` seconds; there is no unit to guess.
 */
export class TestClock {
  private ms: number;

  /** Starts at `start` (epoch ms or an RFC 3339 instant), or at the real now. */
  constructor(start: string | number = Date.now()) {
    this.ms = typeof start === 'number' ? start : Date.parse(start);
  }

  /** Epoch ms: pass `clock.now` wherever the gateway takes a clock. */
  readonly now = (): number => this.ms;

  /** Whole epoch seconds, as a token's `iat` carries them. */
  get seconds(): number {
    return Math.floor(this.ms / 1000);
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  advanceSeconds(seconds: number): void {
    this.ms += seconds * 1000;
  }

  set(instant: string): void {
    this.ms = Date.parse(instant);
  }
}
