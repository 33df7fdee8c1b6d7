import { describe, expect, it } from 'vitest';
import { Freshness } from '../../src/observability/freshness.js';

describe('readiness as fresh data', () => {
  it('is never ready before the first sync, rides out a short resync, and is not ready once stale', () => {
    let ok = false;
    let now = 0;
    const f = new Freshness(
      () => ({ ok, detail: {} }),
      30_000,
      () => now,
    );
    expect(f.check().ok).toBe(false);
    now = 100_000;
    expect(f.check()).toEqual({ ok: false, detail: { fresh: 'never in sync yet' } });
    ok = true;
    expect(f.check().ok).toBe(true);
    ok = false;
    now += 30_000;
    expect(f.check()).toEqual({ ok: true, detail: { staleMs: 30_000, maxStaleMs: 30_000 } });
    now += 1;
    expect(f.check().ok).toBe(false);
    ok = true;
    expect(f.check().ok).toBe(true);
  });
});
