// A token bucket on a caller-supplied clock: `burst` at once, then one more every
// `refillMs`. Used per connection for client PINGs and REPORTs, so a peer's rate is
// checked with one small object and no timer.

export class TokenBucket {
  private tokens: number;
  private atMs: number;

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    now: number,
  ) {
    if (!(burst >= 1) || !(refillMs > 0)) throw new RangeError('invalid token bucket');
    this.tokens = burst;
    this.atMs = now;
  }

  /** Takes a token if there is one. */
  take(now: number): boolean {
    const refill = Math.floor((now - this.atMs) / this.refillMs);
    if (refill > 0) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.atMs += refill * this.refillMs;
    }
    // A full bucket does not bank time: the next refill is a whole interval after use.
    if (this.tokens === this.burst) this.atMs = now;
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }
}
