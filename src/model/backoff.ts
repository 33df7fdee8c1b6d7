// Jittered exponential backoff ("full jitter" on the upper half), one class for every
// retry loop, so thousands of agents that lost the same server do not return in step.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** 0..1: the share of each delay that is randomised. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000, multiplier: 2, jitter: 0.5 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    if (
      opts.initialMs <= 0 ||
      opts.maxMs < opts.initialMs ||
      opts.multiplier < 1 ||
      opts.jitter < 0 ||
      opts.jitter > 1
    )
      throw new RangeError('invalid backoff options');
  }

  /** Delay before the next attempt; grows until maxMs. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.multiplier ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.opts.jitter) + base * this.opts.jitter * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
