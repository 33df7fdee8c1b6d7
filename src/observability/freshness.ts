// Readiness as "serving fresh data": a replica is ready once its datastore has been in sync
// (never before), and stays ready through short resyncs, but not once it has been out of sync
// longer than the staleness limit (calico#11169: a Typha kept serving stale data). The same
// answer gates new clients (`not-ready`, PROTOCOL.md §14.4) and /readyz.

import type { Readiness } from './health.js';

export class Freshness {
  private everFresh = false;
  private lastFreshAtMs = 0;

  constructor(
    /** Whether the data is current right now (readiness(): syncers in sync, API answering). */
    private readonly current: () => Readiness,
    private readonly maxStaleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Asked at least once a second (the server's tick), so staleness is measured to that. */
  check(): Readiness {
    const r = this.current();
    const now = this.now();
    if (r.ok) {
      this.everFresh = true;
      this.lastFreshAtMs = now;
      return r;
    }
    if (!this.everFresh) return { ok: false, detail: { ...r.detail, fresh: 'never in sync yet' } };
    const staleMs = now - this.lastFreshAtMs;
    return {
      ok: staleMs <= this.maxStaleMs,
      detail: { ...r.detail, staleMs, maxStaleMs: this.maxStaleMs },
    };
  }
}
