// Latency statistics for the bench: a log-bucketed histogram (≈1 % relative error) that
// workers fill per sample and ship to the parent as a few hundred [bucket, count] pairs,
// instead of millions of raw samples, plus exact percentiles for small sample sets.

/** Bucket width: each bucket spans a factor of GROWTH, so any percentile is within 1 %. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values below this (ms) share bucket 0; loopback latencies are well above 1 µs. */
const MIN_MS = 0.001;

export interface HistogramJson {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Sparse [bucket index, count] pairs. */
  buckets: [number, number][];
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  sum = 0;

  record(ms: number): void {
    const v = Math.max(ms, MIN_MS);
    const idx = Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH);
    this.counts.set(idx, (this.counts.get(idx) ?? 0) + 1);
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram | HistogramJson): void {
    const pairs = other instanceof Histogram ? other.counts.entries() : other.buckets;
    for (const [idx, n] of pairs) this.counts.set(idx, (this.counts.get(idx) ?? 0) + n);
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  /** The p-th percentile (0..100): the upper edge of the bucket holding it, clamped to [min, max]. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const idx of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(idx)!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, MIN_MS * GROWTH ** (idx + 1)));
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  toJSON(): HistogramJson {
    return { count: this.count, min: this.min, max: this.max, sum: this.sum, buckets: [...this.counts] };
  }

  static fromJSON(j: HistogramJson): Histogram {
    const h = new Histogram();
    h.merge(j);
    return h;
  }
}

/** Exact percentile (nearest rank) of an unsorted array; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** p50/p99/max summary of a histogram, rounded for reports. */
export function summarize(h: Histogram): { count: number; p50: number; p99: number; max: number } {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : Number.NaN);
  return { count: h.count, p50: r(h.percentile(50)), p99: r(h.percentile(99)), max: r(h.max) };
}
