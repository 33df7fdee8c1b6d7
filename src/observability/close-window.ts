// Connection closes of the last few minutes, by syncer and reason, for the fleet view. The
// server keeps only running totals (ServerStats.closes); this samples them every few seconds
// and answers "how many since the sample a window ago", so the hot path stays a counter bump.

export interface RecentClose {
  syncer: string;
  reason: string;
  count: number;
}

interface Sample {
  atMs: number;
  totals: ReadonlyMap<string, number>;
}

export class CloseWindow {
  private readonly samples: Sample[] = [];

  constructor(
    /** Running totals keyed "syncer:reason" (a reason may itself contain ':'). */
    private readonly totals: () => Iterable<[string, number]>,
    readonly windowMs = 5 * 60_000,
  ) {}

  /** Takes a sample of the totals and forgets those older than the window. */
  sample(now: number): void {
    this.samples.push({ atMs: now, totals: new Map(this.totals()) });
    while (this.samples[0]!.atMs < now - this.windowMs) this.samples.shift();
  }

  /**
   * Closes since the oldest sample inside the window, most frequent first; `coveredMs` is
   * the time they span (shorter than the window by up to one sampling interval, or while
   * the process is younger than the window).
   */
  recent(now: number): { coveredMs: number; reasons: RecentClose[] } {
    const base = this.samples.find((s) => s.atMs >= now - this.windowMs);
    const reasons: RecentClose[] = [];
    if (base === undefined) return { coveredMs: 0, reasons }; // not sampled lately: nothing to compare
    for (const [label, total] of this.totals()) {
      const count = total - (base.totals.get(label) ?? 0);
      if (count <= 0) continue;
      const cut = label.indexOf(':');
      reasons.push({ syncer: label.slice(0, cut), reason: label.slice(cut + 1), count });
    }
    reasons.sort(
      (a, b) => b.count - a.count || a.syncer.localeCompare(b.syncer) || a.reason.localeCompare(b.reason),
    );
    return { coveredMs: now - base.atMs, reasons };
  }
}
