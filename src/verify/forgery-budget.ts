/**
 * How many extra signature checks per second the gateway spends on tokens it refuses at the
 * key step, to tell a confirmed forgery from a probe. Past the budget the answer is
 * "unchecked": junk traffic cannot buy CPU.
 */
export class ForgeryCheckBudget {
  private windowStart = 0;
  private used = 0;

  constructor(private readonly perSecond: number) {}

  take(nowMs: number): boolean {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.windowStart) {
      this.windowStart = second;
      this.used = 0;
    }
    if (this.used >= this.perSecond) return false;
    this.used += 1;
    return true;
  }
}
